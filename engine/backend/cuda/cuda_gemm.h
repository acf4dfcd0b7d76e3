// GEMMs on the GPU through cuBLASLt (gemm.cpp): f32, bf16 and f16 operands read in place
// (transposed views cost no copy), batched with strides, tensor cores for the half types
// (f32 accumulation), TF32 for f32 only when allowed, a bias epilogue and a GELU (tanh)
// epilogue that also writes the pre-activation for the backward. Without ENGINE_CUDA every
// entry point throws NoKernelError (cuda_gemm_stub.cpp).
#pragma once
#include "engine/core/tensor.h"

namespace engine::cuda {

// out [batch..., M, N] (contiguous) = a [..., M, K] @ b [..., K, N] (+ out when accumulate)
// (+ bias [N] on every row when bias is defined), batch dims broadcast as cpu::matmul_into.
// a and b share one dtype of f32, bf16, f16; out has that dtype or f32 (half inputs with an
// f32 result: one rounding less). Compute is always f32 (CUBLAS_COMPUTE_32F), or TF32 for
// f32 inputs after set_allow_tf32(true). The bias may have any floating dtype (converted to
// out's). f64 is CPU-only (DTypeError).
//
// With `gelu_pre` defined (out's shape and dtype, contiguous; accumulate must be false):
// gelu_pre = a @ b (+ bias) and out = gelu_tanh(gelu_pre), the pre-activation kept for the
// backward. One cuBLASLt call (CUBLASLT_EPILOGUE_GELU_AUX[_BIAS]; cuBLASLt's GELU is the tanh
// approximation) where its rules allow (gemm::choose_epilogue); otherwise, or when cuBLASLt
// declines, the GEMM writes gelu_pre and the unary gelu_tanh kernel writes out. The fused call
// counts as one kernel `name`; the fallback also counts "gelu_tanh".
void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate = false,
                 const Tensor& bias = {}, const Tensor& gelu_pre = {});

// TF32 tensor-core GEMMs for f32 operands (off by default, so results match the CPU to f32
// rounding). Process-wide, like torch.backends.cuda.matmul.allow_tf32.
void set_allow_tf32(bool on);
bool allow_tf32();

// Tests only: run every GEMM through the classic-cuBLAS fallback (the path taken when
// cuBLASLt's heuristic declines a problem), so that path is checked like the main one.
void use_classic_cublas_for_testing(bool on);

}  // namespace engine::cuda
