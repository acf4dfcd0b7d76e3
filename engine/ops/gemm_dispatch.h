// Internal to engine/ops: the pieces every GEMM-based op shares (linear, matmul, the fused
// linears). They pick the backend for a tensor's device (OpenBLAS on the CPU, cuBLASLt on a
// GPU), the dtype a GEMM runs in there, and reduce a broadcast gradient on its own device.
// Not part of the public API (engine.h does not include it).
#pragma once
#include <initializer_list>
#include <vector>

#include "engine/core/tensor.h"

namespace engine::gemm {

// The dtype GEMMs on `device` run in: the CPU's take f32 for half types (else the floating
// type itself); cuBLASLt takes every floating type as it is (f64 it refuses, naming the op).
DType gemm_dtype(DType dt, Device device, const char* op);

// GPU operands need a present device, and all operands one device: the CPU GEMM would
// otherwise read a GPU operand's device pointer on the host. Undefined tensors are skipped.
void check_device(const char* op, std::initializer_list<Tensor> ts);

// out (+)= a @ b on out's device: cuBLAS for a GPU, OpenBLAS otherwise (no autograd).
void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate = false);

// Sum over the flagged dims on x's device (no autograd).
Tensor sum_dims(const char* name, const Tensor& x, const std::vector<bool>& reduce);

// The last two dims swapped (a view).
Tensor mT(const Tensor& x);

// sum_to on the gradient's own device (shape.cpp's sum_to runs the CPU kernel): sums g over
// the dims where `shape` was broadcast, in f32 (f64 for f64), and converts back.
Tensor reduce_to(const Tensor& g, const Shape& shape);

// c [M, N] = a [M, K] @ b [K, N] as dtype `dt` (a GEMM named `name`); no autograd. On a GPU
// the GEMM runs in the operands' promoted dtype and only the result is rounded to dt (a bf16
// x's gradient from an f32 g and f32 weight is not computed from bf16-rounded g and W).
Tensor mm(const char* name, const Tensor& a, const Tensor& b, DType dt);

}  // namespace engine::gemm
