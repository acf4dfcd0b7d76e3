// How a row-major matmul out = a @ b over strided, transposed, narrowed and broadcast-batched
// operands is posed to a column-major BLAS (cuBLASLt and classic cuBLAS in gemm.cpp), kept
// free of CUDA types and compiled in every build, so the CPU tests can run the description
// through a reference column-major GEMM and check it against matmul. Row-major C = A·B is
// column-major Cᵀ = Bᵀ·Aᵀ: b becomes the BLAS's "A" and a its "B", and a transposed view
// becomes a transpose flag rather than a copy.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>

#include "engine/core/tensor.h"

namespace engine::cuda::gemm {

// One operand as the BLAS reads it: the stored column-major rows×cols matrix (before the
// transpose flag), its leading dimension and the element stride between batch entries (0:
// one matrix shared by every batch entry). `t` holds the data (the input, or a copy when no
// in-place reading exists).
struct Operand {
  Tensor t;
  bool transpose = false;
  int64_t rows = 0, cols = 0, ld = 0, batch_stride = 0;
};

// The whole problem: D (m×n column-major, ld = m, batch stride m·n) = op(A)·op(B), batch times.
struct Problem {
  Operand A, B;  // A from b, B from a
  int64_t m = 0, n = 0, k = 0, batch = 1;
};

// The one stride s with batch element i at i·s (row-major over `sizes`), if there is one.
std::optional<int64_t> uniform_stride(const Shape& strides, const Shape& sizes);

// Reads a row-major [.., R, C] operand in place if its last two strides allow it.
bool read_in_place(const Tensor& t, Operand& g);

// x [..., R, C] broadcast over `batch` as a BLAS operand (copies only what cannot be read in place).
Operand prepare(const Tensor& x, const Shape& batch);

// out [batch..., M, N] = a [..., M, K] @ b [..., K, N].
Problem describe(const Tensor& a, const Tensor& b, const Shape& out_shape);

// The largest power of two ≤ 256 dividing the address and every byte stride: the alignment a
// kernel may assume for that operand.
int64_t alignment(const void* p, std::initializer_list<int64_t> byte_strides);

}  // namespace engine::cuda::gemm
