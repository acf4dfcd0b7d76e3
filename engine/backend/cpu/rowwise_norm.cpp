// layer_norm and rms_norm along rows, forward and backward (see rowwise.h). RMSNorm is
// LayerNorm without centring and without bias, so one kernel serves both (`center`).
// The float path is compiled once per SIMD target and picked at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/backend/cpu/rowwise_norm.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>

#include "hwy/highway.h"
#include "engine/backend/cpu/simd_rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace engine::cpu::HWY_NAMESPACE {

// y = (x − mean)·rstd·gamma + beta per row; mean = 0 when !center. Optional outputs may be null.
void NormRowsF32(const float* x, const float* gamma, const float* beta, double eps, float* y,
                 float* mean_out, float* rstd_out, size_t rows, size_t cols, bool center) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float mu = center ? RowSum(d, xr, cols) / float(cols) : 0.0f;
    const double var = RowSumSqDiff(d, xr, cols, mu) / double(cols);
    const float rs = float(1.0 / std::sqrt(var + eps));
    if (mean_out) mean_out[r] = mu;
    if (rstd_out) rstd_out[r] = rs;
    const auto vmu = hn::Set(d, mu), vrs = hn::Set(d, rs);
    ForVecs(d, cols, [&](size_t i, size_t k) {
      const auto xhat = hn::Mul(hn::Sub(LoadN(d, xr + i, k, 0.0f), vmu), vrs);
      const auto g = LoadOr(d, gamma ? gamma + i : nullptr, k, 1.0f);
      const auto b = LoadOr(d, beta ? beta + i : nullptr, k, 0.0f);
      StoreN(d, hn::MulAdd(xhat, g, b), yr + i, k);
    });
  }
}

// Per row, with xhat = (x − mean)·rstd and g = gy·gamma:
//   gx = rstd·(g − mean(g) − xhat·mean(g·xhat))   (no mean(g) term when !center)
// and pg += gy·xhat, pb += gy (this block's partial dgamma / dbeta). Null outputs are skipped.
void NormBackwardRowsF32(const float* x, const float* gamma, const float* mean,
                         const float* rstd, const float* gy, float* gx, float* pg, float* pb,
                         size_t rows, size_t cols, bool center) {
  const hn::ScalableTag<float> d;
  const auto inv_n = hn::Set(d, 1.0f / float(cols));
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x ? x + r * cols : nullptr;
    const float* gr = gy + r * cols;
    // x / mean / rstd are absent when only dbeta is wanted (then xhat is never formed).
    const bool stats = gx || pg;
    const auto mu = hn::Set(d, stats && center ? mean[r] : 0.0f);
    const auto rs = hn::Set(d, stats ? rstd[r] : 0.0f);
    auto xhat_at = [&](size_t i, size_t k) { return hn::Mul(hn::Sub(LoadN(d, xr + i, k, 0.0f), mu), rs); };
    auto g_at = [&](size_t i, size_t k) {
      return hn::Mul(LoadN(d, gr + i, k, 0.0f), LoadOr(d, gamma ? gamma + i : nullptr, k, 1.0f));
    };
    if (gx) {
      RowAccumulator<decltype(d)> acc_g(d), acc_gx(d);
      ForVecs(d, cols, [&](size_t i, size_t k) {
        const auto g = g_at(i, k);
        acc_g.Add(g);
        acc_gx.MulAdd(g, xhat_at(i, k));
      });
      const auto a = center ? hn::Mul(hn::Set(d, acc_g.Sum(d)), inv_n) : hn::Zero(d);
      const auto b = hn::Mul(hn::Set(d, acc_gx.Sum(d)), inv_n);
      ForVecs(d, cols, [&](size_t i, size_t k) {
        const auto t = hn::Sub(hn::Sub(g_at(i, k), a), hn::Mul(xhat_at(i, k), b));
        StoreN(d, hn::Mul(t, rs), gx + r * cols + i, k);
      });
    }
    if (pg || pb) {
      ForVecs(d, cols, [&](size_t i, size_t k) {
        const auto g = LoadN(d, gr + i, k, 0.0f);
        if (pg) AddTo(d, hn::Mul(g, xhat_at(i, k)), pg + i, k);
        if (pb) AddTo(d, g, pb + i, k);
      });
    }
  }
}

}  // namespace engine::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <vector>

#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cpu/simd_parallel.h"

namespace engine::cpu {

HWY_EXPORT(NormRowsF32);
HWY_EXPORT(NormBackwardRowsF32);

namespace {

// Scalar (double) twin of NormRowsF32, one row.
void norm_row(const double* x, const double* gamma, const double* beta, double eps, double* y,
              double* mean_out, double* rstd_out, int64_t n, bool center) {
  double mu = 0, var = 0;
  if (center) {
    for (int64_t j = 0; j < n; ++j) mu += x[j];
    mu /= double(n);
  }
  for (int64_t j = 0; j < n; ++j) var += (x[j] - mu) * (x[j] - mu);
  const double rs = 1.0 / std::sqrt(var / double(n) + eps);
  if (mean_out) *mean_out = mu;
  if (rstd_out) *rstd_out = rs;
  for (int64_t j = 0; j < n; ++j)
    y[j] = (x[j] - mu) * rs * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0);
}

// Scalar (double) twin of NormBackwardRowsF32, one row.
void norm_backward_row(const double* x, const double* gamma, double mu, double rs,
                       const double* gy, double* gx, double* pg, double* pb, int64_t n,
                       bool center) {
  auto xhat = [&](int64_t j) { return (x[j] - mu) * rs; };
  auto g = [&](int64_t j) { return gy[j] * (gamma ? gamma[j] : 1.0); };
  if (gx) {
    double a = 0, b = 0;
    for (int64_t j = 0; j < n; ++j) a += g(j), b += g(j) * xhat(j);
    a = center ? a / double(n) : 0.0;
    b /= double(n);
    for (int64_t j = 0; j < n; ++j) gx[j] = rs * (g(j) - a - xhat(j) * b);
  }
  for (int64_t j = 0; j < n; ++j) {
    if (pg) pg[j] += gy[j] * xhat(j);  // x is null when only pb is wanted
    if (pb) pb[j] += gy[j];
  }
}

template <class T>
void norm_forward(const T* x, const T* gamma, const T* beta, double eps, T* y, T* mean,
                  T* rstd, int64_t rows, int64_t cols, bool center) {
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    const int64_t o = r0 * cols;
    if constexpr (std::is_same_v<T, float>) {
      HWY_DYNAMIC_DISPATCH(NormRowsF32)(x + o, gamma, beta, eps, y + o, mean ? mean + r0 : nullptr,
                                        rstd ? rstd + r0 : nullptr, size_t(r1 - r0),
                                        size_t(cols), center);
    } else {
      for (int64_t r = r0; r < r1; ++r)
        norm_row(x + r * cols, gamma, beta, eps, y + r * cols, mean ? mean + r : nullptr,
                 rstd ? rstd + r : nullptr, cols, center);
    }
  });
}

// Rows [r0, r1): gx (if non-null) and the partial parameter sums pg / pb (if non-null).
template <class T>
void norm_backward_rows(const T* x, const T* gamma, const T* mean, const T* rstd, const T* gy,
                        T* gx, T* pg, T* pb, int64_t r0, int64_t r1, int64_t cols, bool center) {
  const int64_t o = r0 * cols;
  if constexpr (std::is_same_v<T, float>) {
    const bool stats = gx || pg;  // else x / mean / rstd may be null (only dbeta wanted)
    HWY_DYNAMIC_DISPATCH(NormBackwardRowsF32)(stats ? x + o : nullptr, gamma,
                                              stats && center ? mean + r0 : nullptr,
                                              stats ? rstd + r0 : nullptr, gy + o,
                                              gx ? gx + o : nullptr, pg, pb,
                                              size_t(r1 - r0), size_t(cols), center);
  } else {
    const bool stats = gx || pg;
    for (int64_t r = r0; r < r1; ++r)
      norm_backward_row(stats ? x + r * cols : nullptr, gamma, stats && center ? mean[r] : 0.0,
                        stats ? rstd[r] : 0.0, gy + r * cols, gx ? gx + r * cols : nullptr, pg,
                        pb, cols, center);
  }
}

// Column sums over rows must not depend on scheduling: each fixed block of rows sums into
// its own partial row, then the partial rows are added in block order.
template <class T>
void norm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* gy, T* gx,
                   T* dgamma, T* dbeta, int64_t rows, int64_t cols, bool center) {
  if (!dgamma && !dbeta) {
    if (!gx) return;
    for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
      norm_backward_rows<T>(x, gamma, mean, rstd, gy, gx, nullptr, nullptr, r0, r1, cols, center);
    });
    return;
  }
  const int64_t block = std::max<int64_t>(32, (rows + 255) / 256);  // ≤ 256 partial rows
  const int64_t blocks = std::max<int64_t>(1, (rows + block - 1) / block);
  std::vector<T> pg(dgamma ? blocks * cols : 0), pb(dbeta ? blocks * cols : 0);
  for_chunks(blocks, 1, [&](int64_t b, int64_t) {
    const int64_t r0 = b * block, r1 = std::min(rows, r0 + block);
    norm_backward_rows<T>(x, gamma, mean, rstd, gy, gx, dgamma ? &pg[b * cols] : nullptr,
                          dbeta ? &pb[b * cols] : nullptr, r0, r1, cols, center);
  });
  auto reduce = [&](const std::vector<T>& part, T* out) {
    for_chunks(cols, kElementChunk / 8, [&](int64_t c0, int64_t c1) {
      std::fill(out + c0, out + c1, T(0));
      for (int64_t b = 0; b < blocks; ++b)
        for (int64_t c = c0; c < c1; ++c) out[c] += part[b * cols + c];
    });
  };
  if (dgamma) reduce(pg, dgamma);
  if (dbeta) reduce(pb, dbeta);
}

}  // namespace

template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, double eps, T* y, T* mean,
                        T* rstd, int64_t rows, int64_t cols) {
  norm_forward(x, gamma, beta, eps, y, mean, rstd, rows, cols, true);
}
template <class T>
void layer_norm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* gy,
                         T* gx, T* dgamma, T* dbeta, int64_t rows, int64_t cols) {
  norm_backward(x, gamma, mean, rstd, gy, gx, dgamma, dbeta, rows, cols, true);
}
template <class T>
void rms_norm_forward(const T* x, const T* weight, double eps, T* y, T* rstd, int64_t rows,
                      int64_t cols) {
  norm_forward<T>(x, weight, nullptr, eps, y, nullptr, rstd, rows, cols, false);
}
template <class T>
void rms_norm_backward(const T* x, const T* weight, const T* rstd, const T* gy, T* gx,
                       T* dweight, int64_t rows, int64_t cols) {
  norm_backward<T>(x, weight, nullptr, rstd, gy, gx, dweight, nullptr, rows, cols, false);
}

#define ENGINE_INSTANTIATE(T)                                                                \
  template void layer_norm_forward<T>(const T*, const T*, const T*, double, T*, T*, T*,      \
                                      int64_t, int64_t);                                     \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, \
                                       T*, T*, int64_t, int64_t);                            \
  template void rms_norm_forward<T>(const T*, const T*, double, T*, T*, int64_t, int64_t);   \
  template void rms_norm_backward<T>(const T*, const T*, const T*, const T*, T*, T*, int64_t, \
                                     int64_t);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
#endif  // HWY_ONCE
