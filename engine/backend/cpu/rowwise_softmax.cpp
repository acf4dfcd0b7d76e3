// softmax / log_softmax along rows, forward and backward (see rowwise.h). The float path is
// compiled once per SIMD target (foreach_target.h) and picked at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/backend/cpu/rowwise_softmax.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>

#include "hwy/highway.h"
#include "engine/backend/cpu/simd_math-inl.h"
#include "engine/backend/cpu/simd_rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace engine::cpu::HWY_NAMESPACE {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One row: y = exp(x − max) / Σ exp(x − max).
void SoftmaxRow(const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, RowMax(d, x, n));
  RowAccumulator<decltype(d)> acc(d);
  ForVecs(d, n, [&](size_t i, size_t k) {
    // Padding lanes hold -inf, so exp gives 0 and adds nothing.
    const auto e = SafeExp(d, hn::Sub(LoadN(d, x + i, k, kNegInf), m));
    acc.Add(e);
    StoreN(d, e, y + i, k);
  });
  const auto inv = hn::Set(d, 1.0f / acc.Sum(d));
  ForVecs(d, n, [&](size_t i, size_t k) {
    StoreN(d, hn::Mul(LoadN(d, y + i, k, 0.0f), inv), y + i, k);
  });
}

// One row: y = x − (max + log Σ exp(x − max)).
void LogSoftmaxRow(const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const float m = RowMax(d, x, n);
  RowAccumulator<decltype(d)> acc(d);
  ForVecs(d, n, [&](size_t i, size_t k) {
    acc.Add(SafeExp(d, hn::Sub(LoadN(d, x + i, k, kNegInf), hn::Set(d, m))));
  });
  const auto lse = hn::Set(d, m + std::log(acc.Sum(d)));
  ForVecs(d, n, [&](size_t i, size_t k) {
    StoreN(d, hn::Sub(LoadN(d, x + i, k, 0.0f), lse), y + i, k);
  });
}

void SoftmaxRowsF32(const float* x, float* y, size_t rows, size_t cols, bool log) {
  for (size_t r = 0; r < rows; ++r) {
    if (log) LogSoftmaxRow(x + r * cols, y + r * cols, cols);
    else SoftmaxRow(x + r * cols, y + r * cols, cols);
  }
}

// softmax: gx = y·(gy − Σ gy·y);  log_softmax: gx = gy − exp(y)·Σ gy.
void SoftmaxBackwardRowsF32(const float* y, const float* gy, float* gx, size_t rows,
                            size_t cols, bool log) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* gr = gy + r * cols;
    float* out = gx + r * cols;
    const auto s = hn::Set(d, log ? RowSum(d, gr, cols) : RowDot(d, gr, yr, cols));
    ForVecs(d, cols, [&](size_t i, size_t k) {
      const auto yv = LoadN(d, yr + i, k, 0.0f), g = LoadN(d, gr + i, k, 0.0f);
      const auto v = log ? hn::NegMulAdd(SafeExp(d, yv), s, g) : hn::Mul(yv, hn::Sub(g, s));
      StoreN(d, v, out + i, k);
    });
  }
}

}  // namespace engine::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>

#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cpu/simd_parallel.h"

namespace engine::cpu {

HWY_EXPORT(SoftmaxRowsF32);
HWY_EXPORT(SoftmaxBackwardRowsF32);

namespace {

void softmax_rows(const double* x, double* y, int64_t cols, bool log) {
  const double m = *std::max_element(x, x + cols);
  double s = 0;
  for (int64_t j = 0; j < cols; ++j) s += std::exp(x[j] - m);
  const double lse = m + std::log(s);
  for (int64_t j = 0; j < cols; ++j) y[j] = log ? x[j] - lse : std::exp(x[j] - lse);
}

void softmax_backward_row(const double* y, const double* gy, double* gx, int64_t cols,
                          bool log) {
  double s = 0;
  for (int64_t j = 0; j < cols; ++j) s += log ? gy[j] : gy[j] * y[j];
  for (int64_t j = 0; j < cols; ++j) gx[j] = log ? gy[j] - std::exp(y[j]) * s : y[j] * (gy[j] - s);
}

template <class T>
void forward(const T* x, T* y, int64_t rows, int64_t cols, bool log) {
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    if constexpr (std::is_same_v<T, float>) {
      HWY_DYNAMIC_DISPATCH(SoftmaxRowsF32)(x + r0 * cols, y + r0 * cols, size_t(r1 - r0),
                                           size_t(cols), log);
    } else {
      for (int64_t r = r0; r < r1; ++r) softmax_rows(x + r * cols, y + r * cols, cols, log);
    }
  });
}

template <class T>
void backward(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols, bool log) {
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    const int64_t o = r0 * cols;
    if constexpr (std::is_same_v<T, float>) {
      HWY_DYNAMIC_DISPATCH(SoftmaxBackwardRowsF32)(y + o, gy + o, gx + o, size_t(r1 - r0),
                                                   size_t(cols), log);
    } else {
      for (int64_t r = r0; r < r1; ++r)
        softmax_backward_row(y + r * cols, gy + r * cols, gx + r * cols, cols, log);
    }
  });
}

}  // namespace

template <class T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols) {
  forward(x, y, rows, cols, false);
}
template <class T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t cols) {
  forward(x, y, rows, cols, true);
}
template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols) {
  backward(y, gy, gx, rows, cols, false);
}
template <class T>
void log_softmax_backward(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols) {
  backward(y, gy, gx, rows, cols, true);
}

#define ENGINE_INSTANTIATE(T)                                                          \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t);                    \
  template void log_softmax_forward<T>(const T*, T*, int64_t, int64_t);                \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t);         \
  template void log_softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t);
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
#undef ENGINE_INSTANTIATE

}  // namespace engine::cpu
#endif  // HWY_ONCE
