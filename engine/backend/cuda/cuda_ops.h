// Tensor-level entry points of the CUDA kernels, called by engine/ops when a tensor lives on
// a GPU. Each checks that a device is present (else NoKernelError naming the op and device),
// picks layouts and launches; the op files keep validation, dtype promotion and autograd.
// Kernels compute in f32: they take f32 tensors (the ops convert bf16/f16 around them); f64
// on a GPU is refused with a DTypeError. Without ENGINE_CUDA every function throws
// NoKernelError (cuda_ops_stub.cpp).
#pragma once
#include <vector>

#include "engine/backend/cpu/simd_unary.h"
#include "engine/core/tensor.h"

namespace engine::cuda {

// Throws NoKernelError "[op] no CUDA device ..." unless `device` is a present GPU.
void require(const char* op, Device device);

// Converting strided copy (src broadcast to dst), either side may be on the host; fill.
void copy_tensor(const Tensor& dst, const Tensor& src);
void fill_tensor(const Tensor& dst, double value);

// op ∈ add, sub, mul, div (others throw NoKernelError) over the broadcast shape of a and b,
// any strides; a one-element host tensor operand (a scalar) is accepted. Returns f32.
Tensor binary(const char* op, const Tensor& a, const Tensor& b);

// Contiguous f32: y = f(x); gx = gy·f'(x) (x or y undefined when the op does not need it).
void unary_forward(cpu::Unary op, const Tensor& x, const Tensor& y);
void unary_backward(cpu::Unary op, const Tensor& x, const Tensor& y, const Tensor& gy, const Tensor& gx);

// Sum of f32 x over the flagged dims; result has the kept dims (no keepdim), f32. As cpu::sum_dims.
Tensor sum_dims(const char* op, const Tensor& x, const std::vector<bool>& reduce);

// Contiguous f32 rows [R, C] (see backend/cpu/rowwise.h for the maths and null conventions).
void softmax_forward(const Tensor& x, const Tensor& y, bool log);
void softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, bool log);
void norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                  const Tensor& mean, const Tensor& rstd, bool center);
void norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                   const Tensor& gy, const Tensor& gx, const Tensor& dgamma, const Tensor& dbeta, bool center);

// out [batch..., M, N] (contiguous f32) = a @ b (or += when accumulate) through cuBLAS, as
// cpu::matmul_into: batch dims broadcast; transposed operands are read in place.
void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate = false);

// TF32 tensor-core GEMMs for f32 (off by default, so results match the CPU to f32 rounding).
void set_allow_tf32(bool on);

}  // namespace engine::cuda
