// LoKr on a Linear / Conv1D: ΔW = w1 ⊗ w2 (PEFT 0.11 applies no α/r here, see make_delta), w1 [out_l, in_m] and w2 [out_k, in_n] each
// full or a low-rank product (lokr_w1 or lokr_w1_a·lokr_w1_b; lokr_w2 or lokr_w2_a·lokr_w2_b).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "peft/methods/lokr/config.h"

namespace peft::lokr {

class LokrLinear : public lycoris::LycorisLayer {
 public:
  explicit LokrLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "LokrLinear"; }
  // PEFT's init: w1 (or w1_a) zero, the rest Kaiming-uniform(a=√5), so ΔW = 0; with
  // init_weights false every factor is drawn.
  void add_adapter(const std::string& name, const lycoris::LycorisSettings& s, const LokrShape& shape,
                   bool init_weights, engine::Generator& gen);
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;

 protected:
  Tensor make_delta(const std::string& name) const override;
  void remove_factors(const std::string& name) override;

 private:
  Tensor factor(const std::string& full, const std::string& a, const std::string& b, const std::string& name) const;
  std::map<std::string, std::shared_ptr<ParameterDict>> dicts_;  // "lokr_w1", "lokr_w1_a", ...
};

// torch.kron for matrices: a [p,q] ⊗ b [s,t] -> [p·s, q·t], out[i·s+k, j·t+l] = a[i,j]·b[k,l].
Tensor kron(const Tensor& a, const Tensor& b);

}  // namespace peft::lokr
