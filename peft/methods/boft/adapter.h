// The BOFT adapter: injection into Linear / Conv1D targets (peft 0.11.1 takes torch Linear
// only; GPT-2's Conv1D works here too, with fan_in_fan_out set as for LoRA), and the bias
// option: "all" trains every bias of the model, "boft_only" those of the adapted layers.
#pragma once
#include "peft/core/layer_adapter.h"
#include "peft/methods/boft/config.h"

namespace peft::boft {

class BoftAdapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;
  const BoftConfig& boft_config() const { return static_cast<const BoftConfig&>(config()); }
  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;
  NamedTensors method_tensors() const override;

 private:
  NamedTensors trained_biases_;
};

}  // namespace peft::boft
