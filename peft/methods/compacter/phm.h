// A PHM layer (parameterized hypercomplex multiplication, Zhang et al. 2021; Compacter's
// building block, adapter-hub `PHMLayer`):
//
//   y = x · H + b,   H = Σᵢ₌₁ⁿ Aᵢ ⊗ Bᵢ   [in, out]
//
// Aᵢ = phm_rule[i] [n, n] (shared by every layer of an adapter when shared_phm_rule),
// Bᵢ = W_left[i] · W_right[i] [in/n, out/n] of rank phm_rank (or a full W[i]). Parameters
// per layer: n·(in+out)/n·r + out instead of in·out.
#pragma once
#include <string>

#include "engine/nn/module.h"
#include "peft/methods/compacter/config.h"

namespace peft::compacter {

using engine::Tensor;

class PhmLayer : public engine::nn::UnaryModule {
 public:
  // `shared_rule` [n,n,n]: the adapter's shared rule, or undefined for a rule of this layer's own.
  PhmLayer(const CompacterConfig& c, int64_t in, int64_t out, const Tensor& shared_rule, engine::Generator& gen);
  std::string type_name() const override { return "PHMLayer"; }
  Tensor forward(const Tensor& x) override;  // [..., in] -> [..., out]
  Tensor kronecker_weight();                // H [in, out]

  // Σᵢ rule[i] ⊗ W[i]: rule [n,n,n], W [n,a,b] -> [n·a, n·b] (differentiable).
  static Tensor kron_sum(const Tensor& rule, const Tensor& W);
  // adapter-hub's rule init (phm_c_init).
  static Tensor init_rule(const CompacterConfig& c, engine::Generator& gen);

 private:
  int64_t n_;
  bool factorized_;
  Tensor shared_rule_;
};

}  // namespace peft::compacter
