// Launch wrappers of the fused cross-entropy kernels (loss.cu) and the per-row maths they
// share with the CPU unit tests (__host__ __device__). A plain C++17 header over raw device
// pointers; the Tensor-level entry points are in cuda_loss.h. Logits are [rows, cols]
// contiguous in f32/bf16/f16 storage (dtype code of kernels.h), computed in f32; targets are
// i64 on the device. All launches go to stream 0.
#pragma once
#include <cmath>
#include <cstdint>

#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/rn_math.h"

namespace engine::cuda::kernels {

// Online softmax statistics of a stretch of a row: running max m, Σ exp(x − m), Σ x (for
// label smoothing). The empty stretch is {-inf, 0, 0}.
struct XentStats {
  float m, s, sx;
};

ENGINE_HD XentStats xent_empty() { return {-INFINITY, 0.f, 0.f}; }

// Adds one logit. A −inf logit adds exp(−inf) = 0 (also while the max is still −inf).
ENGINE_HD XentStats xent_push(XentStats a, float x) {
  if (x > a.m) {
    a.s = a.s * expf(a.m - x) + 1.f;  // a.s = 0 while a.m = −inf: 0·0 + 1
    a.m = x;
  } else if (x != -INFINITY) {
    a.s += expf(x - a.m);  // NaN x propagates (x > m is false, exp(NaN) is NaN)
  }
  a.sx += x;
  return a;
}

// Combines two stretches; an empty side (s = 0) contributes nothing, so −inf − −inf never
// reaches exp.
ENGINE_HD XentStats xent_merge(XentStats a, XentStats b) {
  const float m = a.m > b.m ? a.m : b.m;
  XentStats r;
  r.m = m;
  r.s = (a.s == 0.f ? 0.f : a.s * expf(a.m - m)) + (b.s == 0.f ? 0.f : b.s * expf(b.m - m));
  r.sx = a.sx + b.sx;
  if (a.m != a.m || b.m != b.m) r.m = NAN;  // a NaN logit makes the row NaN, as on the CPU
  return r;
}

// The row's loss (1−ε)(lse − x_t) + ε(lse − mean x) from its statistics, with lse written to
// *lse; 0 for an ignored row. Scalars in double, as the CPU's f32 path computes them. A
// non-finite max (a +inf logit, or no logit above −inf) gives lse = NaN, as the CPU's
// exp(inf − inf): online statistics alone would give +inf for a single +inf logit.
ENGINE_HD float xent_row_loss(XentStats st, float x_t, int64_t cols, double eps, bool ignored, float* lse) {
  const double l = st.m > -INFINITY && st.m < INFINITY ? double(st.m) + log(double(st.s)) : double(NAN);
  *lse = float(l);
  if (ignored) return 0.f;
  const double nll = l - double(x_t);
  const double smooth = eps != 0 ? l - double(st.sx) / double(cols) : 0.0;
  return float((1.0 - eps) * nll + eps * smooth);
}

// One logit's gradient (exp(x − lse) − ε/C)·g, minus (1−ε)·g at the target: the CPU's order.
ENGINE_HD float xent_grad(float x, float lse, float off, float g, bool is_target, float target_sub) {
  const float v = rn::mul(rn::sub(expf(rn::sub(x, lse)), off), g);
  return is_target ? rn::sub(v, target_sub) : v;
}

// loss[r] (f32, 0 on ignored rows) and lse[r] (f32) of every row; one block per row, one
// pass over the logits (online max / sum). An out-of-range target gives a NaN loss and is
// reported by xent_reduce.
void xent_forward(const void* logits, int dt, const int64_t* targets, float* loss, float* lse, int64_t rows,
                  int64_t cols, int64_t ignore_index, double eps);

// One block, fixed order: out[0] = Σ loss (double) · (mean ? 1/count : 1) as f32 when out is
// non-null; info[0] = count of non-ignored rows, info[1] = first row with a target outside
// [0, cols) and not ignore_index (−1 if none), info[2] = that target.
void xent_reduce(const float* loss, const int64_t* targets, int64_t rows, int64_t cols, int64_t ignore_index,
                 bool mean, float* out, int64_t* info);

// gx[r, c] = (softmax − smoothed one-hot)·g_r recomputed from the logits and the saved lse,
// with g_r = float(double(g[r·g_stride]) · g_scale) (0 on ignored rows); gx in the logits'
// dtype. One block per row.
void xent_backward(const void* logits, int dt, const int64_t* targets, const float* lse, const float* g,
                   int64_t g_stride, double g_scale, void* gx, int64_t rows, int64_t cols, int64_t ignore_index,
                   double eps);

}  // namespace engine::cuda::kernels
