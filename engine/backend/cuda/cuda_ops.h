// Tensor-level entry points of the CUDA elementwise, reduction and row kernels, called by
// engine/ops when a tensor lives on a GPU. Each checks that a device is present (else
// NoKernelError naming the op and device), picks layouts and launches; the op files keep
// validation, dtype promotion and autograd. Tensors are read and written in their own dtype:
// f32, bf16 and f16 compute in f32 and round once (as the CPU backend); integers compute in
// themselves; f64 is accepted by copy/fill/binary/compare/where (so integer-vs-double-scalar
// ops work as on the CPU) and refused with a DTypeError by the float kernels (unary, sum, max,
// softmax, norms). Without ENGINE_CUDA every function throws NoKernelError (cuda_ops_stub.cpp).
#pragma once
#include <vector>

#include "engine/backend/cpu/simd_unary.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/core/tensor.h"

namespace engine::cuda {

// Throws NoKernelError "[op] no CUDA device ..." unless `device` is a present GPU.
void require(const char* op, Device device);

// Converting strided copy (src broadcast to dst), either side may be on the host; fill.
void copy_tensor(const Tensor& dst, const Tensor& src);
void fill_tensor(const Tensor& dst, double value);

// op ∈ add, sub, mul, div, pow, maximum, minimum over the broadcast shape of a and b, any
// strides, in promote(a, b) (operands of another dtype are converted first); a one-element host
// tensor operand (a scalar) is accepted. The result has the promoted dtype.
Tensor binary(const char* op, const Tensor& a, const Tensor& b);
// op ∈ eq, ne, lt, le, gt, ge, logical_and, compared in promote(a, b): a bool tensor.
Tensor compare(const char* op, const Tensor& a, const Tensor& b);
// cond (bool) ? a : b over the broadcast shape of all three, in promote(a, b); one-element host
// tensors are accepted for any of them.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Contiguous x, y, gy, gx of one dtype (f32, bf16, f16): y = f(x); gx = gy·f'(x) (x or y
// undefined when the op does not need it).
void unary_forward(cpu::Unary op, const Tensor& x, const Tensor& y);
void unary_backward(cpu::Unary op, const Tensor& x, const Tensor& y, const Tensor& gy, const Tensor& gx);

// scale · Σ x over the flagged dims; the result has the kept dims (no keepdim). f32/bf16/f16:
// f32 accumulation, result in x's dtype rounded once; integers and bool: an exact i64 sum
// (scale must be 1). Deterministic.
Tensor sum_dims(const char* op, const Tensor& x, const std::vector<bool>& reduce, double scale = 1.0);

// As cpu::max_dims: values (x's dtype) and i64 indices of the first maximum over the flagged
// dims (row-major over them; a NaN wins). Every flagged dim must be non-empty.
struct MaxOut {
  Tensor values, indices;
};
MaxOut max_dims(const char* op, const Tensor& x, const std::vector<bool>& reduce);

// gx (contiguous, zero-filled by the caller) [.., n, ..] along `dim`: gx[.., idx, ..] = g, with g
// and idx shaped like gx but 1 along `dim` (max's vjp).
void put_along(const Tensor& gx, int64_t dim, const Tensor& idx, const Tensor& g);

// Contiguous rows [R, C] of one float dtype (see backend/cpu/rowwise.h for the maths and null
// conventions); gamma, beta, mean, rstd, dgamma, dbeta are f32.
void softmax_forward(const Tensor& x, const Tensor& y, bool log);
void softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, bool log);
void norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                  const Tensor& mean, const Tensor& rstd, bool center);
void norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                   const Tensor& gy, const Tensor& gx, const Tensor& dgamma, const Tensor& dbeta, bool center);

// matmul_into / set_allow_tf32 (cuBLASLt GEMMs) are declared in cuda_gemm.h.

}  // namespace engine::cuda
