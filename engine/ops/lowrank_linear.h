// A linear layer plus a scaled low-rank update (LoRA's forward) as one op, so that the update
// costs its two thin GEMMs and nothing else:
//
//   y = x·W(ᵀ) + b + scale · (x_adapter·Aᵀ)·Bᵀ,   A [r, in], B [out, r]
//
// The composite (linear + linear + linear, then `* scale` and `+`) runs two full [N, out]
// elementwise passes forward and, backward, one more [N, out] pass for the scale plus an
// [N, in] add of the two input gradients. Here the base GEMM writes y, the rank-r product is
// scaled while it is [N, r] (tiny), and the last GEMM accumulates into y (beta = 1). Backward
// scales the [N, r] gradient, and when x_adapter is x itself (the same tensor handle: LoRA
// without dropout) accumulates both input-gradient GEMMs into one buffer.
//
// Not part of engine.h (a fused op for peft/methods/lora); include this header directly.
#pragma once
#include "engine/core/tensor.h"
#include "engine/ops/linalg.h"

namespace engine {

// x [..., in]; weight [out, in] (out_in) or [in, out] (in_out); bias [out] or undefined;
// x_adapter of x's shape (x itself, or dropout(x)); A [r, in]; B [out, r], r ≥ 1.
// Dtypes and autocast as `linear`: the result has the promoted dtype of every operand.
// GEMMs count as "linear" (forward), "linear.dx" (input gradients, including the rank-r one
// of x·Aᵀ, as the composite counts it), "linear.dw" (W, A, B) and "linear.db" (bias), so
// the counters read as they do for the composite; only the needed gradients are computed.
Tensor lowrank_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, WeightLayout layout,
                      const Tensor& x_adapter, const Tensor& lora_A, const Tensor& lora_B, double scale);

}  // namespace engine
