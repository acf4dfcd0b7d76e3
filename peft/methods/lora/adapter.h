// The LoRA adapter: injection into Linear / Conv1D / Embedding targets, the init options
// (Kaiming/zero, gaussian, PiSSA, OLoRA), the bias options and QLoRA's quantized base.
#pragma once
#include "peft/core/layer_adapter.h"
#include "peft/methods/lora/config.h"

namespace peft::lora {

class LoraAdapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;
  const LoraConfig& lora_config() const { return static_cast<const LoraConfig&>(config()); }
  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;
  NamedTensors method_tensors() const override;

 private:
  void apply_init(TunerLayer& layer, const std::string& path);
  NamedTensors trained_biases_;  // bias="all" / "lora_only": base biases trained with the adapter
};

}  // namespace peft::lora
