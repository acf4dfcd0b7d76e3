// The (IA)³ adapter: injection into Linear / Conv1D targets, each marked feed-forward or not
// by feedforward_modules (defaults per model type when null, as PEFT).
#pragma once
#include "peft/core/layer_adapter.h"
#include "peft/methods/ia3/config.h"

namespace peft::ia3 {

class Ia3Adapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;
  const Ia3Config& ia3_config() const { return static_cast<const Ia3Config&>(config()); }

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  void before_layers(models::PretrainedModel& model, const std::vector<std::string>& targets) override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;

 private:
  ModuleSelector feedforward_;  // resolved: the config's, or the model type's default
};

}  // namespace peft::ia3
