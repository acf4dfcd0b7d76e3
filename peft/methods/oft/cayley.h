// Orthogonal blocks for OFT and BOFT: the Cayley transform of a batch of small square
// matrices (with the batched inverse it needs, an op with its own vjp) and the product of
// activations with a block-diagonal matrix, done block by block instead of building it.
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace peft::oft {

using engine::Tensor;

// A⁻¹ for A [B, n, n]: Gauss-Jordan with partial pivoting in f64, returned in A's dtype.
// vjp: dA = −A⁻ᵀ·g·A⁻ᵀ (from d(A⁻¹) = −A⁻¹·dA·A⁻¹). ValueError when a block is singular.
Tensor batched_inverse(const Tensor& a);

// Q = (I − S)(I + S)⁻¹ with S = (A − Aᵀ)/2, per block: A [B, n, n] -> Q [B, n, n], orthogonal.
// (peft's `_cayley_batch` / BOFT's `cayley_batch`; Q = I when A = 0.)
Tensor cayley(const Tensor& a);

// x @ blockdiag(Q_0, ..., Q_{k-1}) over the last dim: x [..., d], blocks [k, b, b] with
// k·b >= d. When k·b > d, x is zero-padded and the result cut back to d (peft slices the
// block-diagonal matrix to [d, d]).
Tensor block_diag_apply(const Tensor& x, const Tensor& blocks);

// The dense blockdiag(Q_0, ..., Q_{k-1})[:d, :d] (for merging).
Tensor block_diag(const Tensor& blocks, int64_t d);

// The identity [n, n].
Tensor eye(int64_t n, engine::DType dtype = engine::DType::f32);

}  // namespace peft::oft
