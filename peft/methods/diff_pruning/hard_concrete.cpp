// Hard-concrete gates (see hard_concrete.h).
#include "peft/methods/diff_pruning/hard_concrete.h"

#include <cmath>

#include "engine/engine.h"

namespace peft::diff_pruning {

engine::Tensor hard_concrete_gate(const engine::Tensor& log_alpha, const engine::Tensor& u) {
  engine::Tensor s;
  if (u.defined()) {
    engine::Tensor uc = engine::clamp(u, 1e-6, 1 - 1e-6);  // log(0) would be -inf
    engine::Tensor logit_u = engine::log(uc) - engine::log(engine::rsub(1.0, uc));
    s = engine::sigmoid((logit_u + log_alpha) / kBeta);
  } else {
    s = engine::sigmoid(log_alpha);
  }
  return engine::clamp(s * (kZeta - kGamma) + kGamma, 0.0, 1.0);
}

engine::Tensor prob_nonzero(const engine::Tensor& log_alpha) {
  return engine::sigmoid(log_alpha - kBeta * std::log(-kGamma / kZeta));
}

}  // namespace peft::diff_pruning
