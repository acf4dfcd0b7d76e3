// VeRA layer (see layer.h and README.md).
#include "peft/methods/vera/layer.h"

#include "engine/engine.h"

namespace peft::vera {

namespace nn = engine::nn;

VeraLinear::VeraLinear(nn::ModulePtr base) : TunerLayer(std::move(base)) {
  nn::Linear* linear = base_linear();
  engine::check<engine::ValueError>(linear != nullptr, "[VeRA] cannot wrap a ", base_layer().type_name());
  in_ = linear->in_features();
  out_ = linear->out_features();
  lambda_b_ = register_module("vera_lambda_b", std::make_shared<ParameterDict>());
  lambda_d_ = register_module("vera_lambda_d", std::make_shared<ParameterDict>());
  dropout_ = register_module("vera_dropout", std::make_shared<ModuleDict>());
}

void VeraLinear::add_adapter(const std::string& name, const Tensor& vera_A, const Tensor& vera_B, const VeraSettings& s,
                             engine::Generator& gen) {
  engine::check<engine::ValueError>(!has_adapter(name), "[VeRA] layer already has adapter '", name, "'");
  const int64_t r = vera_A.size(0);
  engine::check<engine::ShapeError>(vera_A.size(1) >= in_ && vera_B.size(0) >= out_ && vera_B.size(1) == r,
                                    "[VeRA] projections ", engine::shape_str(vera_A.shape()), " / ",
                                    engine::shape_str(vera_B.shape()), " too small for a layer of ", in_, " -> ", out_);
  projections_[name] = {vera_A, vera_B};
  // PEFT: λ_b = 0 (ΔW = 0 at the start), λ_d = d_initial.
  lambda_b_->add(name, s.init_weights ? engine::zeros({out_}) : engine::randn({out_}, engine::DType::f32, gen));
  lambda_d_->add(name, engine::full({r}, s.d_initial));
  const uint64_t dropout_seed = gen.seed() + 7919 * (gen.advance(1) + 1);  // its own stream per layer
  dropout_->add(name, std::make_shared<nn::Dropout>(s.dropout, dropout_seed));
  train(base_layer().is_training());  // new modules follow the model's mode (eval: no dropout)
}

void VeraLinear::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  lambda_b_->erase(name);
  lambda_d_->erase(name);
  dropout_->erase(name);
  projections_.erase(name);
}

std::vector<std::pair<std::string, Tensor>> VeraLinear::adapter_tensors(const std::string& name) const {
  return {{"vera_lambda_b", lambda_b_->at(name)}, {"vera_lambda_d", lambda_d_->at(name)}};
}

Tensor VeraLinear::sliced_A(const std::string& name) const { return projections_.at(name).first.narrow(1, 0, in_); }
Tensor VeraLinear::sliced_B(const std::string& name) const { return projections_.at(name).second.narrow(0, 0, out_); }

Tensor VeraLinear::delta_weight(const std::string& name) const {
  Tensor b = engine::unsqueeze(lambda_b_->at(name), 1) * sliced_B(name);  // [out,1] * [out,r]
  Tensor a = engine::unsqueeze(lambda_d_->at(name), 1) * sliced_A(name);  // [r,1] * [r,in]
  return engine::matmul(b, a);                                            // [out,in]
}

Tensor VeraLinear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  Tensor y = base_layer().forward(x);  // [..., out]
  for (const std::string& name : adapters) {
    Tensor h = dropout_->at<nn::Dropout>(name)->forward(x);
    h = engine::linear(h, sliced_A(name)) * lambda_d_->at(name);             // [..., r], frozen A: dX only
    y = y + engine::linear(h, sliced_B(name)) * lambda_b_->at(name);         // [..., out]
  }
  return y;
}

}  // namespace peft::vera
