// LoRA behind a learned gate (adapter-hub's LoRA with use_gating, methods/lora.py):
//
//   y = W·x + g(x) · s · B·A·x,   g(x) = mean_t σ(x_t·w_g + b_g)   (one scalar per sequence)
//
// A LoraLinear (so plain LoRA adapters can share the layer) whose gated adapters also own a
// `lora_gate.<adapter>` Linear(in, 1). The gate depends on the input, so a gated adapter
// cannot be merged into W.
#pragma once
#include <memory>
#include <set>
#include <string>

#include "peft/core/module_dict.h"
#include "peft/methods/lora/layer.h"

namespace peft::unipelt {

class GatedLoraLinear : public lora::LoraLinear {
 public:
  explicit GatedLoraLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "GatedLoraLinear"; }
  // LoRA's init (Kaiming A, zero B) plus the gate: weight N(0, 0.02), bias torch's default.
  void add_gated_adapter(const std::string& name, const lora::LoraSettings& settings, engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  std::string merge_refusal(const std::string& name) const override;

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;

 private:
  std::shared_ptr<ModuleDict> gates_;
};

}  // namespace peft::unipelt
