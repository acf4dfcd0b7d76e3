// Vectorised row loops of the fused attention kernels (Highway, dispatched at run time to the
// best of SSE4/AVX2/AVX-512): the exponentials are what dominates attention besides the GEMMs,
// and libm's scalar exp would make the fused kernel exp-bound.
#pragma once
#include <cstdint>

namespace engine::cpu::attn {

// max_c x[c] (−inf for n = 0).
float row_max(const float* x, int64_t n);
double row_max(const double* x, int64_t n);

// x[c] = exp(x[c] − shift) in place; returns Σ_c x[c]. −inf entries become 0; shift is finite.
float exp_shift_sum(float* x, int64_t n, float shift);
double exp_shift_sum(double* x, int64_t n, double shift);

// ds[c] = p[c] · (ds[c] − delta): the softmax backward on one row (ds holds dP on entry).
void softmax_grad_row(float* ds, const float* p, int64_t n, float delta);
void softmax_grad_row(double* ds, const double* p, int64_t n, double delta);

}  // namespace engine::cpu::attn
