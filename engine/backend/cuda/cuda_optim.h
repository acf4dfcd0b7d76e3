// Tensor-level entry points of the optimizer kernels (optim.cu), called by engine/optim for
// parameters on a GPU: fused AdamW / SGD steps (one launch per parameter, masked parameters
// included: the mask's indices are uploaded once per mask and reused), the global gradient
// norm with one host read, and in-place gradient scaling. Parameters are f32/bf16/f16 (f64
// is CPU-only: DTypeError); gradients and state f32 on the parameter's device. Without
// ENGINE_CUDA every function throws NoKernelError (cuda_optim_stub.cpp).
#pragma once
#include <memory>
#include <vector>

#include "engine/autograd/grad_mask.h"
#include "engine/backend/cuda/optim_kernels.h"
#include "engine/core/tensor.h"

namespace engine::cuda {

// grad: the compact f32 gradient (contiguous, on param's device); state: the optimizer's slots
// (exp_avg, exp_avg_sq[, max_exp_avg_sq] / momentum_buffer), f32 like grad; mask: the mask the
// state was sized for (null = every entry).
void adamw_step(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
                const std::shared_ptr<GradMask>& mask, const kernels::AdamWScalars& s);
void sgd_step(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
              const std::shared_ptr<GradMask>& mask, const kernels::SGDScalars& s);

// Σ_t Σ|g|^p over the (GPU) tensors `grads` (max|g| when p is infinite), accumulated in double
// in a fixed order; one read back for all of them.
double grad_norm_part(const std::vector<Tensor>& grads, double p);

// t *= s in place (a contiguous f32/bf16/f16 GPU tensor; s rounded to t's dtype as mul_ does).
void scale_(const Tensor& t, double s);

}  // namespace engine::cuda
