// What LoHa and LoKr share (PEFT's tuners/lycoris_utils.py): the config fields, a layer whose
// update is a full weight delta ΔW [out,in] built from the adapter's factors, and the adapter
// that injects it into Linear / GPT-2 Conv1D targets.
//
//   forward(x) = base(x) + x·ΔWᵀ        (PEFT: F.linear(x, get_delta_weight))
//
// Training-time regularisers, as PEFT 0.11: `module_dropout` skips the whole adapter for a
// forward with that probability; `rank_dropout` zeroes rows of ΔW (output features) and
// rescales the kept ones by 1/mean(kept). Both are off in eval mode.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "peft/core/config.h"
#include "peft/core/layer_adapter.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::lycoris {

// PEFT's LycorisConfig fields (LoHa and LoKr add theirs).
struct LycorisConfig : TunerConfig {
  int64_t r = 8;
  double alpha = 8;
  double rank_dropout = 0.0;
  double module_dropout = 0.0;
  bool use_effective_conv2d = false;  // Conv2d only; ignored for Linear targets
  bool init_weights = true;           // false: every factor random (a non-identity start)
  std::map<std::string, double> rank_pattern;
  std::map<std::string, double> alpha_pattern;

  void fields(ConfigFields& f) override;
  void validate() const override;
  int64_t rank_for(const std::string& module_name) const;
  double alpha_for(const std::string& module_name) const;
};

// One adapter's hyper-parameters on one layer.
struct LycorisSettings {
  int64_t r = 8;
  double scaling = 1.0;  // α/r
  double rank_dropout = 0.0;
  double module_dropout = 0.0;
};

// torch.nn.init.kaiming_uniform_(a=√5) on a 2-d shape: U(±1/√fan_in), fan_in = shape[1].
engine::Tensor kaiming_uniform(const engine::Shape& shape, engine::Generator& gen);

class LycorisLayer : public TunerLayer {
 public:
  explicit LycorisLayer(engine::nn::ModulePtr base);
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  bool has_adapter(const std::string& name) const override { return settings_.count(name) > 0; }
  void remove_adapter(const std::string& name) override;
  // ΔW in torch layout [out,in], scaled, without dropout (what merging adds).
  Tensor delta_weight(const std::string& name) const override;
  const LycorisSettings& settings(const std::string& name) const { return settings_.at(name); }

 protected:
  // ΔW from the factors, scaled: [out,in].
  virtual Tensor make_delta(const std::string& name) const = 0;
  virtual void remove_factors(const std::string& name) = 0;
  void add_settings(const std::string& name, const LycorisSettings& s, uint64_t seed);
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;

 private:
  Tensor drop_rows(const Tensor& delta, double p);
  int64_t in_, out_;
  std::map<std::string, LycorisSettings> settings_;
  engine::Generator gen_;  // module / rank dropout draws
};

// Injection into Linear / Conv1D targets; the method supplies its layer type.
class LycorisAdapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;
  const LycorisConfig& lycoris_config() const { return static_cast<const LycorisConfig&>(config()); }

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;
  // Whether `module` is this method's layer (a further adapter is added to it).
  virtual bool is_own_layer(const engine::nn::Module& module) const = 0;
  virtual std::shared_ptr<LycorisLayer> make_layer(const engine::nn::ModulePtr& base) const = 0;
  // Creates the adapter's factors on `layer` (initialised per config().init_weights).
  virtual void add_factors(LycorisLayer& layer, const std::string& path, const LycorisSettings& s,
                           engine::Generator& gen) const = 0;
};

}  // namespace peft::lycoris
