// Matrix products on OpenBLAS. matmul broadcasts batch dims and reads transposed operands
// in place (no copy for a transposed view); linear knows both weight layouts.
#pragma once
#include "engine/core/tensor.h"

namespace engine {

// a [..., M, K] @ b [..., K, N] -> [..., M, N]; 1-d operands as in numpy/torch.
Tensor matmul(const Tensor& a, const Tensor& b);

// How a linear layer stores its weight.
enum class WeightLayout {
  out_in,  // [out, in] as torch.nn.Linear: y = x W^T + b
  in_out,  // [in, out] as GPT-2's Conv1D:   y = x W + b
};

// y = x·W(^T) + bias over x [..., in]. With a frozen weight the backward runs one GEMM (dX)
// and saves no activation; with a frozen input it runs only dW (and db).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              WeightLayout layout = WeightLayout::out_in);

// gelu_tanh(linear(x, weight, bias, layout)) with the composite's autograd (a linear node and a
// gelu_tanh node over the pre-activation) and autocast. On the CPU it is that composite,
// bit for bit; on a GPU the pre-activation and the activation come from one cuBLASLt GEMM with
// a GELU epilogue (cuBLASLt's GELU is the tanh form; the erf GELU cannot be fused this way).
Tensor linear_gelu_tanh(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        WeightLayout layout = WeightLayout::out_in);

}  // namespace engine
