// How a row-major matmul out = a @ b over strided, transposed, narrowed and broadcast-batched
// operands is posed to a column-major BLAS (cuBLASLt and classic cuBLAS in gemm.cpp), kept
// free of CUDA types and compiled in every build, so the CPU tests can run the description
// through a reference column-major GEMM and check it against matmul. Row-major C = A·B is
// column-major Cᵀ = Bᵀ·Aᵀ: b becomes the BLAS's "A" and a its "B", and a transposed view
// becomes a transpose flag rather than a copy. choose_epilogue decides, equally without CUDA,
// whether a GELU epilogue can run inside the GEMM and where its pre-activation goes.
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

// What runs after the product inside the GEMM call. gelu_aux*: D = gelu_tanh(product + bias)
// and the pre-activation (product + bias) is written to the aux buffer (cuBLASLt's
// CUBLASLT_EPILOGUE_GELU_AUX / _GELU_AUX_BIAS; gemm.cpp maps these to cuBLAS's values).
enum class Epilogue { none, bias, gelu_aux, gelu_aux_bias };

struct EpilogueChoice {
  Epilogue epilogue = Epilogue::none;
  // The GELU runs inside the GEMM (false with `gelu`: the GEMM writes the pre-activation with
  // `epilogue` and a separate gelu_tanh kernel follows).
  bool fused_gelu = false;
  // The aux matrix in elements, laid out as D (the row-major out): column-major m×n, ld m,
  // batch entries m·n apart. Meaningful when fused_gelu.
  int64_t aux_ld = 0, aux_batch_stride = 0;
};

// cuBLASLt's rules for the GELU aux buffer (cublasLt.h, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD /
// _AUX_BATCH_STRIDE): ld and batch stride divisible by 8, ld ≥ D's rows. The aux pointer's
// alignment (bytes, as gemm::alignment gives it) must also be 16 or more: cuBLASLt picks
// kernels by it and we want the vectorised ones or none.
EpilogueChoice choose_epilogue(const Problem& p, bool bias, bool gelu, int64_t aux_alignment);

}  // namespace engine::cuda::gemm
