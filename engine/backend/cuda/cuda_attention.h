// Tensor-level entry points of the fused CUDA attention (attention_forward.cu,
// attention_backward.cu), called by engine/ops/attention.cpp for tensors on a GPU. The op keeps
// validation, the prefix keys/values, dtype promotion and autograd; these check the device, the
// dtypes and the supported head dims, describe the strided operands and launch. Without
// ENGINE_CUDA every function throws NoKernelError (cuda_attention_stub.cpp).
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace engine::cuda {

// Head dims (D and Dv) the CUDA kernels take: one lane owns up to 4 of the 128 columns.
inline constexpr int64_t kAttentionMaxHeadDim = 128;

// The scalar description of one call (as the op's Problem).
struct AttentionSpec {
  double scale = 1;
  bool causal = false;
  int64_t q_offset = 0;  // query i sees key j iff j <= i + q_offset
  double dropout_p = 0;  // with the Philox stream (seed, offset), as the CPU kernel
  uint64_t seed = 0, offset = 0;
};

// q [B,H,Tq,D], k [B,H,Tk,D], v [B,H,Tk,Dv]: one dtype (f32, bf16 or f16) on cuda:0, any
// strides. bias: undefined or the same dtype, [B|1, H|1, Tq|1, Tk|1]. mask: undefined or f32
// [B|1, Tk] (nonzero = attend; prefix keys included). Writes out [B,H,Tq,Dv] (the dtype, any
// strides) and lse [B,H,Tq] (contiguous f32; −inf for a query that sees no key).
void attention_forward(const AttentionSpec& s, const Tensor& q, const Tensor& k, const Tensor& v,
                       const Tensor& bias, const Tensor& mask, const Tensor& out, const Tensor& lse);

// Overwrites each defined one of dq, dk, dv (shaped as q, k, v) and dbias (the bias's
// [B|1,H|1,Tq|1,Tk|1] shape: summed over its size-1 dims), given the forward's out and lse and
// dout. v and out are read only when dq, dk or dbias is requested (else they may be undefined).
void attention_backward(const AttentionSpec& s, const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& bias, const Tensor& mask, const Tensor& out, const Tensor& lse,
                        const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv,
                        const Tensor& dbias);

}  // namespace engine::cuda
