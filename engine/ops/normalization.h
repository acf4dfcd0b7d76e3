// Normalisations along one dim, each with its vjp: softmax / log_softmax over any dim, and
// layer_norm / rms_norm over the last dim (torch.nn.functional semantics; rms_norm is HF's
// T5LayerNorm). Computed by the row kernels of backend/cpu/rowwise.
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace engine {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// (x − mean)/√(var + eps)·weight + bias over the last dim (biased var). weight and bias are
// [C] or undefined (no affine). A frozen weight/bias gets no gradient work at all.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// x/√(mean(x²) + eps)·weight over the last dim; weight [C] or undefined.
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-6);

}  // namespace engine
