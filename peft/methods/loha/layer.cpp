// LoHa layer (see layer.h and README.md).
#include "peft/methods/loha/layer.h"

#include "engine/engine.h"

namespace peft::loha {

using lycoris::kaiming_uniform;

LohaLinear::LohaLinear(engine::nn::ModulePtr base) : LycorisLayer(std::move(base)) {
  w1a_ = register_module("hada_w1_a", std::make_shared<ParameterDict>());
  w1b_ = register_module("hada_w1_b", std::make_shared<ParameterDict>());
  w2a_ = register_module("hada_w2_a", std::make_shared<ParameterDict>());
  w2b_ = register_module("hada_w2_b", std::make_shared<ParameterDict>());
}

void LohaLinear::add_adapter(const std::string& name, const lycoris::LycorisSettings& s, bool init_weights,
                             engine::Generator& gen) {
  add_settings(name, s, gen.seed() + 7919 * (gen.advance(1) + 1));
  const int64_t r = s.r, in = in_features(), out = out_features();
  w1a_->add(name, kaiming_uniform({out, r}, gen));
  w1b_->add(name, kaiming_uniform({r, in}, gen));
  w2a_->add(name, kaiming_uniform({out, r}, gen));
  w2b_->add(name, init_weights ? engine::zeros({r, in}) : kaiming_uniform({r, in}, gen));
}

void LohaLinear::remove_factors(const std::string& name) {
  for (auto* dict : {&w1a_, &w1b_, &w2a_, &w2b_}) (*dict)->erase(name);
}

std::vector<std::pair<std::string, Tensor>> LohaLinear::adapter_tensors(const std::string& name) const {
  return {{"hada_w1_a", w1a_->at(name)}, {"hada_w1_b", w1b_->at(name)},
          {"hada_w2_a", w2a_->at(name)}, {"hada_w2_b", w2b_->at(name)}};
}

Tensor LohaLinear::make_delta(const std::string& name) const {
  Tensor w1 = engine::matmul(w1a_->at(name), w1b_->at(name));  // [out,r] @ [r,in] -> [out,in]
  Tensor w2 = engine::matmul(w2a_->at(name), w2b_->at(name));  // [out,in]
  return w1 * w2 * settings(name).scaling;                     // Hadamard product
}

}  // namespace peft::loha
