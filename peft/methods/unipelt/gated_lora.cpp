// Gated LoRA (see gated_lora.h).
#include "peft/methods/unipelt/gated_lora.h"

#include "engine/engine.h"

namespace peft::unipelt {

namespace nn = engine::nn;

GatedLoraLinear::GatedLoraLinear(nn::ModulePtr base) : LoraLinear(std::move(base)) {
  gates_ = register_module("lora_gate", std::make_shared<ModuleDict>());
}

void GatedLoraLinear::add_gated_adapter(const std::string& name, const lora::LoraSettings& settings, engine::Generator& gen) {
  add_adapter(name, settings, gen);
  auto gate = std::make_shared<nn::Linear>(in_features(), 1);
  gate->reset_parameters(gen);
  engine::copy_(gate->weight(), engine::normal({1, in_features()}, 0.0, 0.02, engine::DType::f32, gen));
  gates_->add(name, gate);
}

void GatedLoraLinear::remove_adapter(const std::string& name) {
  LoraLinear::remove_adapter(name);
  if (gates_->contains(name)) gates_->erase(name);
}

std::vector<std::pair<std::string, Tensor>> GatedLoraLinear::adapter_tensors(const std::string& name) const {
  auto out = LoraLinear::adapter_tensors(name);
  if (gates_->contains(name))
    for (const auto& [p, t] : gates_->at<nn::Linear>(name)->named_parameters()) out.emplace_back("lora_gate." + p, t);
  return out;
}

std::string GatedLoraLinear::merge_refusal(const std::string& name) const {
  if (gates_->contains(name)) return "a gated LoRA scales B·A·x by a gate computed from x: it is not a fixed ΔW";
  return LoraLinear::merge_refusal(name);
}

Tensor GatedLoraLinear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  std::vector<std::string> plain;
  for (const auto& a : adapters)
    if (!gates_->contains(a)) plain.push_back(a);
  Tensor y = plain.empty() ? base_layer().forward(x) : LoraLinear::adapted_forward(x, plain);  // [B,T,out]
  for (const auto& a : adapters) {
    if (!gates_->contains(a)) continue;
    Tensor u = engine::linear(engine::linear(x, lora_A(a)), lora_B(a)) * settings(a).scaling;  // [B,T,in]->[B,T,r]->[B,T,out]
    Tensor g = engine::mean(engine::sigmoid(gates_->at<nn::Linear>(a)->forward(x)), {1}, true);  // [B,T,1] -> [B,1,1]
    y = y + u * g;
  }
  return y;
}

}  // namespace peft::unipelt
