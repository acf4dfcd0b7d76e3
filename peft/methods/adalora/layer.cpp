// AdaLoRA layer (see layer.h and README.md).
#include "peft/methods/adalora/layer.h"

#include "engine/engine.h"

namespace peft::adalora {

namespace nn = engine::nn;

AdaLoraLinear::AdaLoraLinear(nn::ModulePtr base) : TunerLayer(std::move(base)) {
  nn::Linear* linear = base_linear();
  engine::check<engine::ValueError>(linear != nullptr, "[AdaLoRA] cannot wrap a ", base_layer().type_name());
  in_ = linear->in_features();
  out_ = linear->out_features();
  A_ = register_module("lora_A", std::make_shared<ParameterDict>());
  B_ = register_module("lora_B", std::make_shared<ParameterDict>());
  E_ = register_module("lora_E", std::make_shared<ParameterDict>());
  ranknum_ = register_module("ranknum", std::make_shared<ParameterDict>());
  dropout_ = register_module("lora_dropout", std::make_shared<ModuleDict>());
}

void AdaLoraLinear::add_adapter(const std::string& name, const AdaLoraSettings& s, engine::Generator& gen) {
  engine::check<engine::ValueError>(!has_adapter(name), "[AdaLoRA] layer already has adapter '", name, "'");
  const double std = s.init_weights ? 0.02 : 1.0;
  A_->add(name, engine::normal({s.r, in_}, 0.0, std, engine::DType::f32, gen));
  E_->add(name, s.init_weights ? engine::zeros({s.r, 1}) : engine::randn({s.r, 1}, engine::DType::f32, gen));
  B_->add(name, engine::normal({out_, s.r}, 0.0, std, engine::DType::f32, gen));
  ranknum_->add(name, engine::full({1}, s.ranknum), /*trainable=*/false);  // PEFT's frozen ranknum parameter
  const uint64_t dropout_seed = gen.seed() + 7919 * (gen.advance(1) + 1);  // its own stream per layer
  dropout_->add(name, std::make_shared<nn::Dropout>(s.dropout, dropout_seed));
  settings_[name] = s;
  train(base_layer().is_training());  // new modules follow the model's mode (eval: no dropout)
}

void AdaLoraLinear::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  for (auto* dict : {&A_, &E_, &B_, &ranknum_}) (*dict)->erase(name);
  dropout_->erase(name);
  settings_.erase(name);
}

std::vector<std::pair<std::string, Tensor>> AdaLoraLinear::adapter_tensors(const std::string& name) const {
  return {{"lora_A", lora_A(name)}, {"lora_B", lora_B(name)}, {"lora_E", lora_E(name)}};
}

Tensor AdaLoraLinear::delta_weight(const std::string& name) const {
  if (settings_.at(name).r == 0) return engine::zeros({out_, in_}, engine::DType::f32, lora_A(name).device());
  return engine::matmul(lora_B(name), lora_A(name) * lora_E(name)) * factor(name);  // [out,r] @ [r,in]
}

Tensor AdaLoraLinear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  Tensor y = base_layer().forward(x);  // [..., out]
  for (const std::string& name : adapters) {
    if (settings_.at(name).r == 0) continue;  // every rank pruned: no update (PEFT allows r = 0)
    Tensor h = dropout_->at<nn::Dropout>(name)->forward(x);
    h = engine::linear(h, lora_A(name) * lora_E(name));        // [..., in] -> [..., r]
    y = y + engine::linear(h, lora_B(name)) * factor(name);    // [..., r] -> [..., out]
  }
  return y;
}

}  // namespace peft::adalora
