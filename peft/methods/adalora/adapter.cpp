// AdaLoRA injection, regulariser and rank allocation (see adapter.h).
#include "peft/methods/adalora/adapter.h"

#include <set>

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/adalora/layer.h"

namespace peft::adalora {

namespace nn = engine::nn;

namespace {

Tensor identity(int64_t n) {
  std::vector<float> eye(static_cast<size_t>(n * n), 0.f);
  for (int64_t i = 0; i < n; ++i) eye[static_cast<size_t>(i * n + i)] = 1.f;
  return engine::from_vector(eye, {n, n});
}

}  // namespace

bool AdaLoraAdapter::accepts(const nn::Module& m) const { return is_linear(m) || dynamic_cast<const AdaLoraLinear*>(&m); }

std::shared_ptr<TunerLayer> AdaLoraAdapter::add_to(const std::string& path, const nn::ModulePtr& module, engine::Generator& gen) {
  const AdaLoraConfig& c = adalora_config();
  AdaLoraSettings s;
  s.r = c.pattern_rank(path).value_or(c.init_r);  // a saved adapter keeps only its kept ranks
  s.scaling = c.lora_alpha > 0 ? c.lora_alpha : static_cast<double>(c.init_r);
  s.ranknum = static_cast<double>(c.init_r);
  s.dropout = c.lora_dropout;
  s.init_weights = c.init_lora_weights.get<bool>();
  std::shared_ptr<AdaLoraLinear> layer = std::dynamic_pointer_cast<AdaLoraLinear>(module);
  if (!layer) {
    if (static_cast<nn::Linear&>(*module).layout() == engine::WeightLayout::in_out && !c.fan_in_fan_out)
      static_cast<AdaLoraConfig&>(mutable_config()).fan_in_fan_out = true;  // PEFT does the same for Conv1D
    layer = std::make_shared<AdaLoraLinear>(module);
  }
  layer->add_adapter(name(), s, gen);
  return layer;
}

void AdaLoraAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  LayerAdapter::attach(model, seed);
  std::vector<std::pair<std::string, AdaLoraLinear*>> svd_layers;
  for (const auto& [path, layer] : layers()) svd_layers.emplace_back(path, static_cast<AdaLoraLinear*>(layer.get()));
  allocator_ = std::make_unique<RankAllocator>(adalora_config(), name(), std::move(svd_layers));
}

Tensor AdaLoraAdapter::regularization_loss() const {
  const double weight = adalora_config().orth_reg_weight;
  if (weight <= 0 || layers().empty()) return {};
  Tensor total;
  int64_t count = 0;
  for (const auto& [path, tuner] : layers()) {
    const auto& layer = static_cast<const AdaLoraLinear&>(*tuner);
    const Tensor& A = layer.lora_A(name());
    if (!A.requires_grad() || A.size(0) == 0) continue;  // not training: no regulariser (PEFT's inference mode)
    for (Tensor cov : {engine::matmul(A, A.t()), engine::matmul(layer.lora_B(name()).t(), layer.lora_B(name()))}) {
      Tensor d = cov - identity(cov.size(0)).to(cov.device());  // [r,r]
      Tensor fro = engine::sqrt(engine::sum(d * d));  // ‖PPᵀ − I‖_F
      total = total.defined() ? total + fro : fro;
      ++count;
    }
  }
  if (count == 0) return {};
  return total * (weight / static_cast<double>(count));
}

// PEFT's AdaLoraModel.update_and_allocate.
void AdaLoraAdapter::after_optimizer_step(int64_t step) {
  const AdaLoraConfig& c = adalora_config();
  if (c.inference_mode || !allocator_) return;
  engine::check<engine::ConfigError>(c.total_step.has_value(), "[ADALORA] config field 'total_step' must be set to "
                                                               "allocate ranks (the length of training)");
  auto& config = static_cast<AdaLoraConfig&>(mutable_config());
  const int64_t final_start = *c.total_step - c.tfinal;
  if (step < final_start) {
    if (auto pattern = allocator_->update_and_allocate(step)) config.rank_pattern = *pattern;
  } else if (step == final_start) {
    config.rank_pattern = *allocator_->update_and_allocate(step, /*force=*/true);
    allocator_->reset_scores();
  } else if (config.rank_pattern.is_object()) {
    allocator_->mask_using_rank_pattern(config.rank_pattern);  // keep pruned E at zero
  }
}

NamedTensors AdaLoraAdapter::trainable_tensors() const {
  NamedTensors out;
  std::set<std::string> seen;
  for (auto& [key, t] : LayerAdapter::method_tensors())
    if (t.requires_grad()) out.emplace_back(key, t), seen.insert(key);
  for (auto& [key, t] : Adapter::trainable_tensors())  // modules_to_save copies
    if (!seen.count(key)) out.emplace_back(key, t);
  return out;
}

NamedTensors AdaLoraAdapter::method_tensors() const {
  NamedTensors out;
  const AdaLoraConfig& c = adalora_config();
  for (const auto& [path, tuner] : layers()) {
    const auto& layer = static_cast<const AdaLoraLinear&>(*tuner);
    const std::string prefix = "base_model.model." + path + ".";
    std::vector<int64_t> kept;
    const bool in_pattern = c.rank_pattern.is_object() && c.rank_pattern.contains(path + ".lora_E");
    if (in_pattern) {
      const json& mask = c.rank_pattern.at(path + ".lora_E");
      for (size_t i = 0; i < mask.size(); ++i)
        if (mask[i].get<bool>()) kept.push_back(static_cast<int64_t>(i));
    }
    // A loaded adapter already has only its kept ranks; a trained one is cut here.
    if (!in_pattern || static_cast<int64_t>(kept.size()) == layer.lora_A(name()).size(0)) {
      for (auto& [suffix, t] : layer.adapter_tensors(name())) out.emplace_back(prefix + suffix, t);
      continue;
    }
    engine::NoGradGuard no_grad;
    Tensor idx = engine::from_vector(kept, {static_cast<int64_t>(kept.size())}).to(layer.lora_A(name()).device());
    out.emplace_back(prefix + "lora_A", engine::index_select(layer.lora_A(name()), 0, idx));  // [k,in]
    out.emplace_back(prefix + "lora_B", engine::index_select(layer.lora_B(name()), 1, idx));  // [out,k]
    out.emplace_back(prefix + "lora_E", engine::index_select(layer.lora_E(name()), 0, idx));  // [k,1]
  }
  return out;
}

}  // namespace peft::adalora
