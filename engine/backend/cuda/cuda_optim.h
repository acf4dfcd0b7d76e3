// Tensor-level entry points of the optimizer kernels (optim.cu), called by engine/optim for
// parameters on a GPU: fused AdamW / SGD steps (per parameter, or every parameter in one
// multi-tensor launch; masked parameters included: the mask's indices are uploaded once per
// mask and reused), the global gradient norm with one launch and one host read, and in-place
// gradient scaling. Parameters are f32/bf16/f16 (f64
// is CPU-only: DTypeError); gradients and state f32 on the parameter's device. Without
// ENGINE_CUDA every function throws NoKernelError (cuda_optim_stub.cpp).
#pragma once
#include <cstdlib>
#include <memory>
#include <string>
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

// Whether optimizers update their GPU parameters with one multi-tensor launch (the default) or
// one kernel per parameter (ENGINE_CUDA_OPTIM=per_tensor: the same bits; a fallback, and the
// reference of the tests). Read at every step.
inline bool multi_tensor_optim() {
  const char* v = std::getenv("ENGINE_CUDA_OPTIM");
  return !(v && std::string(v) == "per_tensor");
}

// One parameter of a multi-tensor step: what adamw_step / sgd_step take, with its own scalars
// (weight decay and step count differ between parameters). `state` must outlive the call.
struct AdamWItem {
  Tensor param, grad;
  const std::vector<Tensor>* state;
  std::shared_ptr<GradMask> mask;
  kernels::AdamWScalars s;
};
struct SGDItem {
  Tensor param, grad;
  const std::vector<Tensor>* state;
  std::shared_ptr<GradMask> mask;
  kernels::SGDScalars s;
};

// Every item (all on one GPU, any mix of f32/bf16/f16 parameters, masked or not) in one kernel
// launch: the same bits as adamw_step / sgd_step item by item, the same checks. The table of
// pointers goes to the device with one asynchronous copy on stream 0 from pinned staging memory.
// Counts one "adamw_multi_tensor" / "sgd_multi_tensor" kernel.
void adamw_multi_step(const std::vector<AdamWItem>& items);
void sgd_multi_step(const std::vector<SGDItem>& items);

// Σ_t Σ|g|^p over the (GPU) tensors `grads` (max|g| when p is infinite), accumulated in double
// in a fixed order: one launch of per-chunk partials over all of them, one fixed-order
// reduction, one read back ("grad_norm_multi_tensor" + "grad_norm_finish").
double grad_norm_part(const std::vector<Tensor>& grads, double p);

// t *= s in place (a contiguous f32/bf16/f16 GPU tensor; s rounded to t's dtype as mul_ does).
void scale_(const Tensor& t, double s);
// The same for every tensor of `ts` (one GPU), in one launch ("scale_grads_multi_tensor").
void scale_multi_(const std::vector<Tensor>& ts, double s);

}  // namespace engine::cuda
