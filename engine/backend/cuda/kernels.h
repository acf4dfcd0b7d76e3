// Launch wrappers of the CUDA elementwise, reduction and row kernels (elementwise.cu,
// binary.cu, reduce.cu, rowwise.cu). A plain C++17 header over raw device pointers so that
// nvcc compiles only the kernels; Tensor-level code that picks layouts and dtypes lives in
// cuda_ops.cpp. Tensors are read and written in their own dtype (code `dt`) and computed in
// f32 for f32/bf16/f16 (one rounding per result, as the CPU backend), in the integer itself
// for i32/i64, in f64 for f64 (binary/compare/where/copy only). All launches go to the default
// stream, the one the pooled allocator (cuda_device.cu) orders its cudaMallocAsync/cudaFreeAsync
// on. A failed launch throws engine::Error naming the kernel and cudaGetErrorString.
#pragma once
#include <cstdint>

#include "engine/backend/cpu/simd_unary.h"

namespace engine::cuda::kernels {

inline constexpr int kMaxDims = 8, kMaxOps = 4;

// An index space (shape) walked in row-major order and the element strides of up to four
// operands over it (0 on broadcast dims). Passed to kernels by value.
struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxOps][kMaxDims] = {};
};

// Codes of engine::DType (f32, f64, bf16, f16, i32, i64, bool), as int to keep this header free
// of the engine's C++20 headers.
enum Dt : int { F32 = 0, F64, BF16, F16, I32, I64, BOOL };

// dst[i] = convert(src[i]) over l.shape (operand 0 = dst, 1 = src); n = numel.
void copy(void* dst, int dst_dt, const void* src, int src_dt, const Layout& l, int64_t n);
void fill(void* dst, int dt, double value, const Layout& l, int64_t n);

enum class BinOp : int { Add, Sub, Mul, Div, Pow, Max, Min };
enum class CmpOp : int { Eq, Ne, Lt, Le, Gt, Ge, And };
// out = a (op) b over l.shape (operands 0 = out, 1 = a, 2 = b), all of dtype dt.
void binary(BinOp op, int dt, void* out, const void* a, const void* b, const Layout& l, int64_t n);
// out (bool) = a (op) b, a and b of dtype dt.
void compare(CmpOp op, int dt, bool* out, const void* a, const void* b, const Layout& l, int64_t n);
// out = cond ? a : b (operands 0 = out, 1 = cond, 2 = a, 3 = b); out, a, b of dtype dt.
void where(int dt, void* out, const bool* cond, const void* a, const void* b, const Layout& l, int64_t n);

// Contiguous x, y, gy, gx of float dtype dt: y = f(x); gx = gy · f'(x) from x or y (whichever the
// op needs; the other may be null).
void unary_forward(cpu::Unary op, int dt, const void* x, void* y, int64_t n);
void unary_backward(cpu::Unary op, int dt, const void* x, const void* y, const void* gy, void* gx, int64_t n);

// out[o] = scale · Σ_r x[kept(o) + red(r)] (operand 0 strides of both layouts are x's); out is
// contiguous. Float dt: f32 accumulation, out in dt rounded once. I32/I64/BOOL: exact, out i64
// (scale must be 1). Deterministic: a fixed order for a given shape and layout.
// Few outputs over many elements run in reduce_splits(...) pieces, combined in order by a second
// pass (a function of the shapes only: results do not depend on the GPU); the caller passes a
// device workspace of sum_workspace_bytes(...) (0: none needed).
int64_t reduce_splits(const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red);
int64_t sum_workspace_bytes(int dt, const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red);
void sum(int dt, const void* x, void* out, double scale, const Layout& kept, int64_t n_out, const Layout& red,
         int64_t n_red, void* workspace);
// values[o] / indices[o] = the max of x over red(r) and the first r holding it (row-major over
// the reduced dims; a NaN wins, as the CPU). dt ∈ f32, bf16, f16, i32, i64; n_red ≥ 1. In pieces
// as sum, with a workspace of max_workspace_bytes(...).
int64_t max_workspace_bytes(const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red);
void max(int dt, const void* x, void* values, int64_t* indices, const Layout& kept, int64_t n_out,
         const Layout& red, int64_t n_red, void* workspace);
// gx[(o·n + idx[o·inner + i])·inner + i] = g[o·inner + i] for contiguous gx [outer, n, inner] and
// g, idx [outer, inner] (max's vjp; gx zero-filled by the caller). Float dt. Each source writes
// its own element: no atomics.
void put_along(int dt, const void* g, const int64_t* idx, void* gx, int64_t outer, int64_t n, int64_t inner);

// Row-wise over contiguous [rows, cols] of float dtype dt (one block per row, deterministic
// reductions in f32).
void softmax_forward(int dt, const void* x, void* y, int64_t rows, int64_t cols, bool log);
void softmax_backward(int dt, const void* y, const void* gy, void* gx, int64_t rows, int64_t cols, bool log);
// layer_norm (center) or rms_norm: x, y of dtype dt; gamma/beta (f32) may be null; mean/rstd (f32)
// saved when non-null.
void norm_forward(int dt, const void* x, const float* gamma, const float* beta, double eps, void* y, float* mean,
                  float* rstd, int64_t rows, int64_t cols, bool center);
// gx (dt), dgamma, dbeta (f32) each written only when non-null. dgamma/dbeta sum rows in order
// per column, in norm_param_splits(rows, cols) pieces of rows added in order by a second pass
// (shapes only decide); the caller passes a workspace of 2 · cols · splits floats when > 1.
int64_t norm_param_splits(int64_t rows, int64_t cols);
void norm_backward(int dt, const void* x, const float* gamma, const float* mean, const float* rstd, const void* gy,
                   void* gx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, bool center, float* workspace);

}  // namespace engine::cuda::kernels
