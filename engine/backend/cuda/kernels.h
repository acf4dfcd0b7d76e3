// Launch wrappers of the CUDA kernels (elementwise.cu, rowwise.cu). A plain C++17 header over
// raw device pointers so that nvcc compiles only the kernels; Tensor-level code that picks
// layouts and dtypes lives in cuda_ops.cpp. All launches go to the default stream, the same
// stream the pooled allocator (cuda_device.cu) orders its cudaMallocAsync/cudaFreeAsync on.
// A failed launch throws engine::Error naming the kernel and cudaGetErrorString.
#pragma once
#include <cstdint>

#include "engine/backend/cpu/simd_unary.h"

namespace engine::cuda::kernels {

inline constexpr int kMaxDims = 8;

// An index space (shape) walked in row-major order and the element strides of up to three
// operands over it (0 on broadcast dims). Passed to kernels by value.
struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[3][kMaxDims] = {};
};

// Codes of engine::DType (f32, f64, bf16, f16, i32, i64, bool), as int to keep this header free
// of the engine's C++20 headers.
enum Dt : int { F32 = 0, F64, BF16, F16, I32, I64, BOOL };

// dst[i] = convert(src[i]) over l.shape (operand 0 = dst, 1 = src); n = numel.
void copy(void* dst, int dst_dt, const void* src, int src_dt, const Layout& l, int64_t n);
void fill(void* dst, int dt, double value, const Layout& l, int64_t n);

enum class BinOp : int { Add, Sub, Mul, Div };
// out = a (op) b over l.shape, all f32 (operands 0 = out, 1 = a, 2 = b).
void binary(BinOp op, float* out, const float* a, const float* b, const Layout& l, int64_t n);

// y = f(x); gx = gy · f'(x) from x or y (whichever the op needs; the other may be null).
void unary_forward(cpu::Unary op, const float* x, float* y, int64_t n);
void unary_backward(cpu::Unary op, const float* x, const float* y, const float* gy, float* gx, int64_t n);

// out[o] = Σ_r x[kept(o) + red(r)]: `kept` walks the n_out outputs (operand 0 = x strides),
// `red` the n_red reduced elements. One block per output, fixed tree order: deterministic.
void sum(const float* x, float* out, const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red);

// Row-wise over contiguous [rows, cols] f32 (one block per row, deterministic reductions).
void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, bool log);
void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols, bool log);
// layer_norm (center) or rms_norm: gamma/beta may be null; mean/rstd saved when non-null.
void norm_forward(const float* x, const float* gamma, const float* beta, double eps, float* y, float* mean,
                  float* rstd, int64_t rows, int64_t cols, bool center);
// gx, dgamma, dbeta each written only when non-null; dgamma/dbeta sum rows in order per column.
void norm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* gy,
                   float* gx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, bool center);

}  // namespace engine::cuda::kernels
