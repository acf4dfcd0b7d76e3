// LN tuning as peft 0.11.1's LNTuningLayer: each target norm (LayerNorm, T5's RMSNorm, or any
// clonable one-input layer) gets a trainable copy per adapter, `ln_tuning_layers.<adapter>`,
// which replaces the frozen original in the forward while the adapter is active. One adapter
// runs at a time. Merging swaps the values of the copy and the original (PEFT swaps the
// modules), so unmerging swaps them back exactly.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::ln_tuning {

class LnTuningLayer : public TunerLayer {
 public:
  explicit LnTuningLayer(engine::nn::ModulePtr base);
  std::string type_name() const override { return "LNTuningLayer"; }

  void add_adapter(const std::string& name);  // a trainable clone of the base layer
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return copies_->contains(name); }
  // ("ln_tuning_layers.weight", ...): the copy's parameters by their names.
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  std::string merge_refusal(const std::string& name) const override;

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;
  void merge_into_base(const std::string& name) override { swap_with_base(name); }
  void unmerge_from_base(const std::string& name) override { swap_with_base(name); }

 private:
  engine::nn::UnaryModule& copy(const std::string& name) const;
  void swap_with_base(const std::string& name);
  std::shared_ptr<ModuleDict> copies_;
};

}  // namespace peft::ln_tuning
