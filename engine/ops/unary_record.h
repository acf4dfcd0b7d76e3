// Internal to engine/ops: record a unary op's node for an output some other kernel computed.
// linear_gelu_tanh's GPU forward gets the pre-activation and gelu_tanh of it from one cuBLASLt
// call (the GELU epilogue); recording the second as gelu_tanh(pre) gives it exactly the
// composite's autograd (gelu_tanh's vjp, saving the pre-activation). Not public API.
#pragma once
#include "engine/core/tensor.h"

namespace engine::detail {

// Attaches gelu_tanh's node (input x) to y = gelu_tanh(x) computed elsewhere, when x requires
// grad and grad mode is on; returns y. y must have x's shape and dtype (ValueError).
Tensor record_gelu_tanh(const Tensor& x, const Tensor& y);

}  // namespace engine::detail
