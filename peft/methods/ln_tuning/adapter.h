// The LN tuning adapter: a trainable copy of each target norm layer. No default targets for
// BERT (pass target_modules, e.g. ["LayerNorm"]); GPT-2 ln_1/ln_2/ln_f, T5 layer_norm /
// final_layer_norm (peft/core/targets.cpp).
#pragma once
#include "peft/core/layer_adapter.h"
#include "peft/methods/ln_tuning/config.h"

namespace peft::ln_tuning {

class LnTuningAdapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;
};

}  // namespace peft::ln_tuning
