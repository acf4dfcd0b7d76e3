// LoHa / LoKr shared machinery (see lycoris.h).
#include "peft/methods/loha/lycoris.h"

#include <cmath>

#include "engine/engine.h"
#include "peft/core/targets.h"

namespace peft::lycoris {

using engine::ConfigError;
namespace nn = engine::nn;

// ---------------------------------------------------------------- config

void LycorisConfig::fields(ConfigFields& f) {
  TunerConfig::fields(f);
  f("r", r);
  f("alpha", alpha);
  f("rank_dropout", rank_dropout);
  f("module_dropout", module_dropout);
  f("use_effective_conv2d", use_effective_conv2d);
  f("init_weights", init_weights);
  f("rank_pattern", rank_pattern);
  f("alpha_pattern", alpha_pattern);
}

void LycorisConfig::validate() const {
  auto fail = [&](const std::string& field, const std::string& why) {
    engine::fail<ConfigError>("[", peft_type, "] config field '", field, "' ", why);
  };
  if (r <= 0) fail("r", "must be positive, got " + std::to_string(r));
  if (rank_dropout < 0 || rank_dropout >= 1) fail("rank_dropout", "must be in [0, 1), got " + std::to_string(rank_dropout));
  if (module_dropout < 0 || module_dropout >= 1)
    fail("module_dropout", "must be in [0, 1), got " + std::to_string(module_dropout));
  for (const auto& [key, rank] : rank_pattern)
    if (rank <= 0 || rank != std::floor(rank)) fail("rank_pattern", "value for '" + key + "' must be a positive integer");
}

int64_t LycorisConfig::rank_for(const std::string& module_name) const {
  if (auto key = pattern_key(rank_pattern, module_name)) return static_cast<int64_t>(rank_pattern.at(*key));
  return r;
}

double LycorisConfig::alpha_for(const std::string& module_name) const {
  if (auto key = pattern_key(alpha_pattern, module_name)) return alpha_pattern.at(*key);
  return alpha;
}

engine::Tensor kaiming_uniform(const engine::Shape& shape, engine::Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(shape.at(1)));  // gain √(2/(1+5)) · √(3/fan_in)
  return engine::uniform(shape, -bound, bound, engine::DType::f32, gen);
}

// ---------------------------------------------------------------- layer

LycorisLayer::LycorisLayer(nn::ModulePtr base) : TunerLayer(std::move(base)) {
  nn::Linear* linear = base_linear();
  engine::check<engine::ValueError>(linear != nullptr, "[LyCORIS] cannot wrap a ", base_layer().type_name());
  in_ = linear->in_features();
  out_ = linear->out_features();
}

void LycorisLayer::add_settings(const std::string& name, const LycorisSettings& s, uint64_t seed) {
  engine::check<engine::ValueError>(!has_adapter(name), "[", type_name(), "] layer already has adapter '", name, "'");
  settings_[name] = s;
  gen_ = engine::Generator(seed);
  train(base_layer().is_training());  // a new layer follows the model's mode (eval: no dropout)
}

void LycorisLayer::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  remove_factors(name);
  settings_.erase(name);
}

Tensor LycorisLayer::delta_weight(const std::string& name) const { return make_delta(name); }

// PEFT: drop = (rand(out) > p) / mean(drop); ΔW rows scaled by it (no rescaling by 1/(1-p)).
Tensor LycorisLayer::drop_rows(const Tensor& delta, double p) {
  std::vector<float> keep = engine::rand({out_}, engine::DType::f32, gen_).to_vector<float>();
  double kept = 0;
  for (float& k : keep) kept += (k = k > p ? 1.f : 0.f);
  if (kept == 0) return delta * 0.0;  // PEFT would divide by zero here
  for (float& k : keep) k = static_cast<float>(k * out_ / kept);
  return delta * engine::from_vector(keep, {out_, 1}).to(delta.device());  // [out,in] * [out,1]
}

Tensor LycorisLayer::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  Tensor y = base_layer().forward(x);  // [..., out]
  for (const std::string& name : adapters) {
    const LycorisSettings& s = settings_.at(name);
    if (is_training() && s.module_dropout > 0 &&
        engine::rand({1}, engine::DType::f32, gen_).item<float>() <= s.module_dropout)
      continue;  // the whole adapter skipped for this forward
    Tensor delta = make_delta(name);  // [out,in]
    if (is_training() && s.rank_dropout > 0) delta = drop_rows(delta, s.rank_dropout);
    y = y + engine::linear(x, engine::to_dtype(delta, x.dtype()));  // [..., in] -> [..., out]
  }
  return y;
}

// ---------------------------------------------------------------- adapter

bool LycorisAdapter::accepts(const nn::Module& m) const { return is_linear(m) || is_own_layer(m); }

std::shared_ptr<TunerLayer> LycorisAdapter::add_to(const std::string& path, const nn::ModulePtr& module,
                                                   engine::Generator& gen) {
  const LycorisConfig& c = lycoris_config();
  LycorisSettings s;
  s.r = c.rank_for(path);
  s.scaling = c.alpha_for(path) / static_cast<double>(s.r);
  s.rank_dropout = c.rank_dropout;
  s.module_dropout = c.module_dropout;
  std::shared_ptr<LycorisLayer> layer = std::dynamic_pointer_cast<LycorisLayer>(module);
  if (!layer || !is_own_layer(*module)) layer = make_layer(module);
  add_factors(*layer, path, s, gen);
  return layer;
}

}  // namespace peft::lycoris
