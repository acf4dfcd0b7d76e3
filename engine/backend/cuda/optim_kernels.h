// Launch wrappers of the optimizer kernels (optim.cu) and the per-element updates they share
// with the CPU tests (__host__ __device__). The updates follow engine/optim/adamw.cpp and
// sgd.cpp operation by operation with correctly rounded f32 arithmetic (rn_math.h), so a GPU
// step gives the CPU step's bits. A plain C++17 header over raw device pointers; the
// Tensor-level entry points are in cuda_optim.h. All launches go to stream 0.
#pragma once
#include <cstdint>

#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/rn_math.h"

namespace engine::cuda::kernels {

// AdamW's per-step scalars, each the f32 rounding of the double the CPU computes.
struct AdamWScalars {
  float decay;                              // 1 − lr·wd
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float step_size;                          // −lr / (1 − β1^t)
  float bc2;                                // √(1 − β2^t)
  float eps;
  bool amsgrad;
};

// One entry: returns the new weight from the old one (f32) and its gradient; updates m, v
// (and *vmax under amsgrad). torch 1.13's _single_tensor_adamw order, as adamw.cpp.
ENGINE_HD float adamw_update(float w, float g, float& m, float& v, float* vmax, const AdamWScalars& s) {
  w = rn::mul(w, s.decay);                                                   // param.mul_(1 − lr·wd)
  m = rn::add(rn::mul(m, s.beta1), rn::mul(s.one_minus_beta1, g));          // exp_avg
  v = rn::add(rn::mul(v, s.beta2), rn::mul(rn::mul(s.one_minus_beta2, g), g));  // exp_avg_sq
  float second = v;
  if (s.amsgrad) second = *vmax = *vmax < v ? v : *vmax;                     // std::max(vmax, v)
  const float denom = rn::add(rn::div(rn::sqrt(second), s.bc2), s.eps);
  return rn::add(w, rn::mul(s.step_size, rn::div(m, denom)));                // addcdiv_
}

// SGD's per-step scalars (f32 roundings of the CPU's doubles) and flags.
struct SGDScalars {
  float wd, momentum, damp, neg_lr;  // damp = 1 − dampening
  bool has_wd, use_momentum, nesterov, first;  // first: the buffer starts as d_p
};

// One entry, torch 1.13's _single_tensor_sgd order, as sgd.cpp; *buf is the momentum buffer.
ENGINE_HD float sgd_update(float w, float g, float* buf, const SGDScalars& s) {
  float d = s.has_wd ? rn::add(g, rn::mul(s.wd, w)) : g;  // d_p.add(param, alpha=wd)
  if (s.use_momentum) {
    *buf = s.first ? d : rn::add(rn::mul(*buf, s.momentum), rn::mul(s.damp, d));
    d = s.nesterov ? rn::add(d, rn::mul(s.momentum, *buf)) : *buf;
  }
  return rn::add(w, rn::mul(s.neg_lr, d));  // param.add_(d_p, alpha=−lr)
}

// The parameter entry that compact gradient entry k updates: k itself without a mask, else
// idx[k / width]·width + k % width (element masks: width 1; row masks: the row's width).
ENGINE_HD int64_t masked_entry(int64_t k, const int64_t* idx, int64_t width) {
  return idx ? idx[k / width] * width + k % width : k;
}

// n compact entries: param (dtype code param_dt: f32/bf16/f16, updated in place), grad and
// state f32 (vmax null unless amsgrad; buf null without momentum); idx a device i64 array
// (null = unmasked).
void adamw_step(void* param, int param_dt, const float* grad, float* m, float* v, float* vmax, int64_t n,
                const int64_t* idx, int64_t width, const AdamWScalars& s);
void sgd_step(void* param, int param_dt, const float* grad, float* buf, int64_t n, const int64_t* idx,
              int64_t width, const SGDScalars& s);

// Global-norm pieces. norm_partials writes nblocks = norm_blocks(n) partial values of
// Σ|x|^p (p = 2 squares, p = inf takes max|x|, other p uses pow) in double for the n entries
// of x (dtype code dt: f32/bf16/f16), each block in a fixed order; norm_finish reduces the
// n_parts partials in a fixed order into *out (sum, or max when is_inf).
int64_t norm_blocks(int64_t n);
void norm_partials(const void* x, int dt, int64_t n, double p, double* partials);
void norm_finish(const double* partials, int64_t n_parts, bool is_inf, double* out);

// x[i] = x[i] · s in place (dtype code dt: f32/bf16/f16; computed in f32, s rounded to f32).
void scale_inplace(void* x, int dt, int64_t n, double s);

}  // namespace engine::cuda::kernels
