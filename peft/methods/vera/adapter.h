// The VeRA adapter (PEFT's VeraModel): one pair of frozen random projections per adapter,
// sized for the largest target (vera_A [r, max in], vera_B [max out, r]), shared by every
// adapted layer and saved under `base_model.vera_A` / `base_model.vera_B`.
#pragma once
#include "peft/core/layer_adapter.h"
#include "peft/methods/vera/config.h"

namespace peft::vera {

class VeraAdapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;
  const VeraConfig& vera_config() const { return static_cast<const VeraConfig&>(config()); }
  const Tensor& vera_A() const { return vera_A_; }  // [r, max_in]
  const Tensor& vera_B() const { return vera_B_; }  // [max_out, r]

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  void before_layers(models::PretrainedModel& model, const std::vector<std::string>& targets) override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;
  NamedTensors method_tensors() const override;

 private:
  Tensor vera_A_, vera_B_;
};

}  // namespace peft::vera
