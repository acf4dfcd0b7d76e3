// Fused cross-entropy over logits rows (see rowwise.h): the forward reads each row once for
// its logsumexp (and mean, with label smoothing); the backward writes
// (softmax − smoothed one-hot)·g straight from the logits and the saved lse, so neither
// materialises probabilities. The float path is compiled per SIMD target, picked at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/backend/cpu/rowwise_xent.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>

#include "hwy/highway.h"
#include "engine/backend/cpu/simd_math-inl.h"
#include "engine/backend/cpu/simd_rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace engine::cpu::HWY_NAMESPACE {

// loss = (1−ε)·(lse − x[t]) + ε·(lse − mean(x)); ignored rows get loss 0 (lse still saved).
void XentRowsF32(const float* x, const int64_t* targets, float* loss, float* lse, size_t rows,
                 size_t cols, int64_t ignore_index, double eps) {
  const hn::ScalableTag<float> d;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float m = RowMax(d, xr, cols);
    const auto vm = hn::Set(d, m);
    RowAccumulator<decltype(d)> acc_e(d), acc_x(d);
    ForVecs(d, cols, [&](size_t i, size_t k) {
      const auto v = LoadN(d, xr + i, k, neg_inf);  // -inf padding: exp adds 0
      acc_e.Add(SafeExp(d, hn::Sub(v, vm)));
      if (eps != 0) acc_x.Add(LoadN(d, xr + i, k, 0.0f));
    });
    const double l = double(m) + std::log(double(acc_e.Sum(d)));
    lse[r] = float(l);
    const int64_t t = targets[r];
    if (t == ignore_index) {
      loss[r] = 0.0f;
      continue;
    }
    const double nll = l - double(xr[t]);
    const double smooth = eps != 0 ? l - double(acc_x.Sum(d)) / double(cols) : 0.0;
    loss[r] = float((1.0 - eps) * nll + eps * smooth);
  }
}

// gx = (exp(x − lse) − ε/C − (1−ε)·[j = t])·g_r; 0 for ignored rows.
void XentBackwardRowsF32(const float* x, const int64_t* targets, const float* lse,
                         const float* g, size_t g_stride, float* gx, size_t rows, size_t cols,
                         int64_t ignore_index, double eps) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* out = gx + r * cols;
    const int64_t t = targets[r];
    const float gr = t == ignore_index ? 0.0f : g[r * g_stride];
    const auto vlse = hn::Set(d, lse[r]), vg = hn::Set(d, gr);
    const auto off = hn::Set(d, float(eps / double(cols)));
    ForVecs(d, cols, [&](size_t i, size_t k) {
      const auto p = SafeExp(d, hn::Sub(LoadN(d, xr + i, k, 0.0f), vlse));
      StoreN(d, hn::Mul(hn::Sub(p, off), vg), out + i, k);
    });
    if (t != ignore_index) out[t] -= float((1.0 - eps) * double(gr));
  }
}

}  // namespace engine::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>

#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cpu/simd_parallel.h"
#include "engine/core/error.h"

namespace engine::cpu {

HWY_EXPORT(XentRowsF32);
HWY_EXPORT(XentBackwardRowsF32);

namespace {

void xent_row(const double* x, int64_t t, double* loss, double* lse, int64_t n,
              const CrossEntropyOptions& opt) {
  const double m = *std::max_element(x, x + n);
  double s = 0, sx = 0;
  for (int64_t j = 0; j < n; ++j) s += std::exp(x[j] - m), sx += x[j];
  *lse = m + std::log(s);
  const double eps = opt.label_smoothing;
  *loss = t == opt.ignore_index ? 0.0 : (1 - eps) * (*lse - x[t]) + eps * (*lse - sx / double(n));
}

void xent_backward_row(const double* x, int64_t t, double lse, double g, double* gx, int64_t n,
                       const CrossEntropyOptions& opt) {
  if (t == opt.ignore_index) g = 0;
  const double off = opt.label_smoothing / double(n);
  for (int64_t j = 0; j < n; ++j) gx[j] = (std::exp(x[j] - lse) - off) * g;
  if (t != opt.ignore_index) gx[t] -= (1 - opt.label_smoothing) * g;
}

// Targets are validated up front so no exception is thrown from inside a parallel region.
void check_targets(const int64_t* targets, int64_t rows, int64_t cols, int64_t ignore_index) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = targets[r];
    if (t != ignore_index && (t < 0 || t >= cols))
      fail<IndexError>("[cross_entropy] target ", t, " at row ", r, " is outside [0, ", cols,
                       ") (ignore_index ", ignore_index, ")");
  }
}

}  // namespace

template <class T>
void cross_entropy_forward(const T* logits, const int64_t* targets, T* loss, T* lse,
                           int64_t rows, int64_t cols, const CrossEntropyOptions& opt) {
  check_targets(targets, rows, cols, opt.ignore_index);
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    if constexpr (std::is_same_v<T, float>) {
      HWY_DYNAMIC_DISPATCH(XentRowsF32)(logits + r0 * cols, targets + r0, loss + r0, lse + r0,
                                        size_t(r1 - r0), size_t(cols), opt.ignore_index,
                                        opt.label_smoothing);
    } else {
      for (int64_t r = r0; r < r1; ++r)
        xent_row(logits + r * cols, targets[r], loss + r, lse + r, cols, opt);
    }
  });
}

template <class T>
void cross_entropy_backward(const T* logits, const int64_t* targets, const T* lse, const T* g,
                            int64_t g_stride, T* gx, int64_t rows, int64_t cols,
                            const CrossEntropyOptions& opt) {
  check_targets(targets, rows, cols, opt.ignore_index);
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    const int64_t o = r0 * cols;
    if constexpr (std::is_same_v<T, float>) {
      HWY_DYNAMIC_DISPATCH(XentBackwardRowsF32)(logits + o, targets + r0, lse + r0,
                                                g + r0 * g_stride, size_t(g_stride), gx + o,
                                                size_t(r1 - r0), size_t(cols), opt.ignore_index,
                                                opt.label_smoothing);
    } else {
      for (int64_t r = r0; r < r1; ++r)
        xent_backward_row(logits + r * cols, targets[r], lse[r], g[r * g_stride], gx + r * cols,
                          cols, opt);
    }
  });
}

#define ENGINE_INSTANTIATE(T)                                                                 \
  template void cross_entropy_forward<T>(const T*, const int64_t*, T*, T*, int64_t, int64_t,  \
                                         const CrossEntropyOptions&);                         \
  template void cross_entropy_backward<T>(const T*, const int64_t*, const T*, const T*,       \
                                          int64_t, T*, int64_t, int64_t,                      \
                                          const CrossEntropyOptions&);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
#endif  // HWY_ONCE
