// Launch wrappers of the optimizer kernels (optim.cu) and the per-element updates they share
// with the CPU tests (__host__ __device__). The updates follow engine/optim/adamw.cpp and
// sgd.cpp operation by operation with correctly rounded f32 arithmetic (rn_math.h), so a GPU
// step gives the CPU step's bits, whether it runs per tensor or over many tensors in one launch
// (multi-tensor tables below). A plain C++17 header over raw device pointers; the
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

// ---- Multi-tensor launches (PyTorch's fused/foreach AdamW, apex's multi_tensor_apply): one
// launch over a device table of tensors. Each tensor is cut into chunks of kMultiChunk entries;
// chunk_begin is the prefix sum of the chunk counts (assign_chunks), and a block takes chunk c
// (grid-stride over chunks) of the tensor find_tensor(c) returns. Every entry computes exactly
// what the per-tensor kernel computes (the same adamw_update / sgd_update / masked_entry), so
// both paths give the same bits. Tables are plain structs of device pointers, built on the host
// and copied to the device by the caller (cuda_optim.cpp).
inline constexpr int64_t kMultiChunk = 4096;  // entries per block-chunk: 16 per thread of kBlock

struct AdamWTensor {
  void* param;                          // dtype code dt (F32/BF16/F16), updated in place
  const float* grad;                    // n compact entries, as state
  float *m, *v, *vmax;                  // vmax null unless s.amsgrad
  const int64_t* idx;                   // mask indices (null: every entry), see masked_entry
  int64_t width, n, chunk_begin;
  int dt;
  AdamWScalars s;                       // this parameter's own scalars (weight decay, step)
};
struct SGDTensor {
  void* param;
  const float* grad;
  float* buf;  // null without momentum
  const int64_t* idx;
  int64_t width, n, chunk_begin;
  int dt;
  SGDScalars s;
};
// A gradient of the global norm, or a tensor to scale by s (f32 value of the rounded factor).
struct NormTensor {
  void* x;
  int64_t n, chunk_begin;
  int dt;
  float s;  // scale_multi only
};

ENGINE_HD int64_t chunks_of(int64_t n) { return (n + kMultiChunk - 1) / kMultiChunk; }

// Fills chunk_begin of table[0, count) and returns the total chunk count (host side).
template <typename E>
inline int64_t assign_chunks(E* table, int64_t count) {
  int64_t c = 0;
  for (int64_t t = 0; t < count; ++t) table[t].chunk_begin = c, c += chunks_of(table[t].n);
  return c;
}

// The tensor holding chunk c: the last t with table[t].chunk_begin ≤ c (binary search; empty
// tensors share their successor's chunk_begin and are skipped by "last").
template <typename E>
ENGINE_HD int64_t find_tensor(const E* table, int64_t count, int64_t c) {
  int64_t lo = 0, hi = count - 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (table[mid].chunk_begin <= c) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// One launch each over `count` device table entries holding `chunks` chunks in all.
void adamw_multi_step(const AdamWTensor* table, int64_t count, int64_t chunks);
void sgd_multi_step(const SGDTensor* table, int64_t count, int64_t chunks);
// partials[c] = Σ|x|^p (max|x| for p = inf) over chunk c, a fixed tree per chunk; reduce the
// `chunks` partials with norm_finish. The result depends on the table alone, not on the grid.
void norm_multi_partials(const NormTensor* table, int64_t count, int64_t chunks, double p, double* partials);
// x ← x · s per tensor, as scale_inplace.
void scale_multi(const NormTensor* table, int64_t count, int64_t chunks);

// Global-norm pieces (one tensor). norm_partials writes nblocks = norm_blocks(n) partial values of
// Σ|x|^p (p = 2 squares, p = inf takes max|x|, other p uses pow) in double for the n entries
// of x (dtype code dt: f32/bf16/f16), each block in a fixed order; norm_finish reduces the
// n_parts partials in a fixed order into *out (sum, or max when is_inf).
int64_t norm_blocks(int64_t n);
void norm_partials(const void* x, int dt, int64_t n, double p, double* partials);
void norm_finish(const double* partials, int64_t n_parts, bool is_inf, double* out);

// x[i] = x[i] · s in place (dtype code dt: f32/bf16/f16; computed in f32, s rounded to f32).
void scale_inplace(void* x, int dt, int64_t n, double s);

}  // namespace engine::cuda::kernels
