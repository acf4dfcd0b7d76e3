// LoKr layer (see layer.h and README.md).
#include "peft/methods/lokr/layer.h"

#include "engine/engine.h"

namespace peft::lokr {

using lycoris::kaiming_uniform;

namespace {
const char* const kDicts[] = {"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b"};
}

Tensor kron(const Tensor& a, const Tensor& b) {
  const int64_t p = a.size(0), q = a.size(1), s = b.size(0), t = b.size(1);
  Tensor prod = a.reshape({p, 1, q, 1}) * b.reshape({1, s, 1, t});  // [p,s,q,t] by broadcasting
  return prod.reshape({p * s, q * t});
}

LokrLinear::LokrLinear(engine::nn::ModulePtr base) : LycorisLayer(std::move(base)) {
  for (const char* d : kDicts) dicts_[d] = register_module(d, std::make_shared<ParameterDict>());
}

void LokrLinear::add_adapter(const std::string& name, const lycoris::LycorisSettings& s, const LokrShape& sh,
                             bool init_weights, engine::Generator& gen) {
  add_settings(name, s, gen.seed() + 7919 * (gen.advance(1) + 1));
  auto first = [&](const engine::Shape& shape) { return init_weights ? engine::zeros(shape) : kaiming_uniform(shape, gen); };
  if (sh.full_w1) {
    dicts_["lokr_w1"]->add(name, first({sh.out_l, sh.in_m}));
  } else {
    dicts_["lokr_w1_a"]->add(name, first({sh.out_l, s.r}));
    dicts_["lokr_w1_b"]->add(name, kaiming_uniform({s.r, sh.in_m}, gen));
  }
  if (sh.full_w2) {
    dicts_["lokr_w2"]->add(name, kaiming_uniform({sh.out_k, sh.in_n}, gen));
  } else {
    dicts_["lokr_w2_a"]->add(name, kaiming_uniform({sh.out_k, s.r}, gen));
    dicts_["lokr_w2_b"]->add(name, kaiming_uniform({s.r, sh.in_n}, gen));
  }
}

void LokrLinear::remove_factors(const std::string& name) {
  for (auto& [key, dict] : dicts_)
    if (dict->contains(name)) dict->erase(name);
}

std::vector<std::pair<std::string, Tensor>> LokrLinear::adapter_tensors(const std::string& name) const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const char* d : kDicts)
    if (dicts_.at(d)->contains(name)) out.emplace_back(d, dicts_.at(d)->at(name));
  return out;
}

Tensor LokrLinear::factor(const std::string& full, const std::string& a, const std::string& b, const std::string& name) const {
  if (dicts_.at(full)->contains(name)) return dicts_.at(full)->at(name);
  return engine::matmul(dicts_.at(a)->at(name), dicts_.at(b)->at(name));  // [x,r] @ [r,y] -> [x,y]
}

Tensor LokrLinear::make_delta(const std::string& name) const {
  Tensor w1 = factor("lokr_w1", "lokr_w1_a", "lokr_w1_b", name);  // [out_l, in_m]
  Tensor w2 = factor("lokr_w2", "lokr_w2_a", "lokr_w2_b", name);  // [out_k, in_n]
  // PEFT 0.11 (which wrote the fixtures) calls make_kron(w1, w2) without the α/r scaling (later
  // PEFT versions multiply by it); we follow 0.11 so its files give the same outputs.
  return kron(w1, w2);  // [out_l·out_k, in_m·in_n] = [out, in]
}

}  // namespace peft::lokr
