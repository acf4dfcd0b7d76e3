// Tensor-level entry points of the fused cross-entropy kernels (loss.cu), called by
// engine/ops/loss.cpp for logits on a GPU. The op keeps validation and autograd; these pick
// pointers, launch, and read back the one thing the host must know (valid-target count and
// the first out-of-range target: an IndexError like the CPU's). Without ENGINE_CUDA every
// function throws NoKernelError (cuda_loss_stub.cpp).
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace engine::cuda {

struct CrossEntropyForward {
  Tensor rows;   // f32 [N]: per-row loss (0 on ignored rows)
  Tensor lse;    // f32 [N]: per-row logsumexp (saved for the backward)
  Tensor total;  // f32 [] on the device: Σ rows · (mean ? 1/count : 1); undefined for none
  int64_t count = 0;  // rows whose target is not ignore_index
};

// x: contiguous [N, C] logits in f32/bf16/f16 on a GPU; t: contiguous i64 [N] on the same GPU.
// reduce: false for Reduction::none (no total). Throws IndexError for a target outside [0, C).
CrossEntropyForward cross_entropy_forward(const Tensor& x, const Tensor& t, int64_t ignore_index,
                                          double label_smoothing, bool reduce, bool mean);

// gx (x's dtype, [N, C]) from the logits, targets and saved lse: g is f32 on the device, [N]
// (g_stride 1) or one element (g_stride 0) times g_scale.
Tensor cross_entropy_backward(const Tensor& x, const Tensor& t, const Tensor& lse, const Tensor& g, int64_t g_stride,
                              double g_scale, int64_t ignore_index, double label_smoothing);

}  // namespace engine::cuda
