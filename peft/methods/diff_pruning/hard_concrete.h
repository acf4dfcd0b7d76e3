// The hard-concrete distribution (Louizos, Welling & Kingma 2018, "Learning Sparse Neural
// Networks through L0 Regularization", arXiv:1712.01312, §4): a gate z ∈ [0, 1] with
// non-zero mass at exactly 0 and 1, reparameterised by log α so that gradients flow.
//   s = sigmoid((log u − log(1 − u) + log α) / β),  u ~ U(0, 1)
//   z = clamp(s · (ζ − γ) + γ, 0, 1)
//   P(z ≠ 0) = sigmoid(log α − β · log(−γ / ζ))          (the expected L0 norm per gate)
//   test time: z = clamp(sigmoid(log α) · (ζ − γ) + γ, 0, 1)
#pragma once
#include "engine/core/tensor.h"

namespace peft::diff_pruning {

inline constexpr double kBeta = 2.0 / 3.0, kGamma = -0.1, kZeta = 1.1;

// A sampled gate per entry of log_alpha, given u of the same shape (u in (0, 1)); with u
// undefined, the deterministic test-time gate. Differentiable in log_alpha.
engine::Tensor hard_concrete_gate(const engine::Tensor& log_alpha, const engine::Tensor& u = {});
// P(z ≠ 0) per entry (differentiable); its sum is the expected L0 norm.
engine::Tensor prob_nonzero(const engine::Tensor& log_alpha);

}  // namespace peft::diff_pruning
