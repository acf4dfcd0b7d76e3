// Per-target SIMD helpers for row kernels (include after hwy/highway.h, once per target):
// partial-vector loads/stores for a row's tail and the row reductions built on them.
// Reductions accumulate a row in a RowAccumulator and reduce its lanes once at the end, so a
// row's result depends only on the row (never on threads or neighbouring rows).

#if defined(ENGINE_BACKEND_CPU_SIMD_ROWS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ENGINE_BACKEND_CPU_SIMD_ROWS_INL_H_
#undef ENGINE_BACKEND_CPU_SIMD_ROWS_INL_H_
#else
#define ENGINE_BACKEND_CPU_SIMD_ROWS_INL_H_
#endif

#include <cstring>
#include <limits>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace engine::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Loads k ≤ Lanes(d) floats, the missing lanes set to `fill` (the neutral element of what
// follows: 0 for sums, -inf for max). Goes through a buffer for k < Lanes: masked loads are
// not fault-free on every target of Highway 1.0.3.
template <class D>
HWY_INLINE hn::Vec<D> LoadN(D d, const float* p, size_t k, float fill) {
  if (k == hn::Lanes(d)) return hn::LoadU(d, p);
  HWY_ALIGN float buf[HWY_LANES(float)];
  for (size_t i = 0; i < hn::Lanes(d); ++i) buf[i] = fill;
  std::memcpy(buf, p, k * sizeof(float));
  return hn::Load(d, buf);
}

// Loads k floats, or the constant `absent` when p is null (an optional gamma / beta).
template <class D>
HWY_INLINE hn::Vec<D> LoadOr(D d, const float* p, size_t k, float absent) {
  return p ? LoadN(d, p, k, absent) : hn::Set(d, absent);
}

// Stores the first k ≤ Lanes(d) lanes of v.
template <class D>
HWY_INLINE void StoreN(D d, hn::Vec<D> v, float* p, size_t k) {
  if (k == hn::Lanes(d)) return hn::StoreU(v, d, p);
  HWY_ALIGN float buf[HWY_LANES(float)];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, k * sizeof(float));
}

// Calls f(i, k) for each vector of a row of n floats: k = Lanes(d), then the tail.
template <class D, class F>
HWY_INLINE void ForVecs(D d, size_t n, F&& f) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) f(i, N);
  if (i < n) f(i, n - i);
}

template <class D>
HWY_INLINE float SumLanes(D d, hn::Vec<D> v) {
  return hn::GetLane(hn::SumOfLanes(d, v));
}

// A row sum whose rounding error does not grow with the row's length or shrink with the lane
// count: vectors add into `lo`, every 16 of them `lo` folds into `mid`, every 16 of those
// `mid` folds into `hi` (a three-level tree). A single running vector would add cols/Lanes
// terms per lane: 6k for a 50257-wide softmax row on AVX2 (twice AVX-512's, and its error),
// 50k on a scalar target. Here each level adds at most 16 terms, plus cols/(256·Lanes) at the top.
template <class D>
struct RowAccumulator {
  hn::Vec<D> lo, mid, hi;
  unsigned n_lo = 0, n_mid = 0;
  explicit RowAccumulator(D d) : lo(hn::Zero(d)), mid(hn::Zero(d)), hi(hn::Zero(d)) {}

  HWY_INLINE void Add(hn::Vec<D> v) { lo = hn::Add(lo, v), Carry(); }
  HWY_INLINE void MulAdd(hn::Vec<D> a, hn::Vec<D> b) { lo = hn::MulAdd(a, b, lo), Carry(); }
  HWY_INLINE float Sum(D d) const { return hn::GetLane(hn::SumOfLanes(d, hn::Add(hi, hn::Add(mid, lo)))); }

 private:
  HWY_INLINE void Carry() {
    if (++n_lo < 16) return;
    mid = hn::Add(mid, lo), lo = hn::Zero(hn::DFromV<hn::Vec<D>>()), n_lo = 0;
    if (++n_mid < 16) return;
    hi = hn::Add(hi, mid), mid = hn::Zero(hn::DFromV<hn::Vec<D>>()), n_mid = 0;
  }
};

template <class D>
HWY_INLINE float RowMax(D d, const float* x, size_t n) {
  auto acc = hn::Set(d, -std::numeric_limits<float>::infinity());
  ForVecs(d, n, [&](size_t i, size_t k) {
    acc = hn::Max(acc, LoadN(d, x + i, k, -std::numeric_limits<float>::infinity()));
  });
  return hn::GetLane(hn::MaxOfLanes(d, acc));
}

template <class D>
HWY_INLINE float RowSum(D d, const float* x, size_t n) {
  RowAccumulator<D> acc(d);
  ForVecs(d, n, [&](size_t i, size_t k) { acc.Add(LoadN(d, x + i, k, 0.0f)); });
  return acc.Sum(d);
}

// Σ a·b.
template <class D>
HWY_INLINE float RowDot(D d, const float* a, const float* b, size_t n) {
  RowAccumulator<D> acc(d);
  ForVecs(d, n, [&](size_t i, size_t k) { acc.MulAdd(LoadN(d, a + i, k, 0.0f), LoadN(d, b + i, k, 0.0f)); });
  return acc.Sum(d);
}

// Σ (x - c)²; the tail is padded with c so that padding adds nothing.
template <class D>
HWY_INLINE float RowSumSqDiff(D d, const float* x, size_t n, float c) {
  const auto vc = hn::Set(d, c);
  RowAccumulator<D> acc(d);
  ForVecs(d, n, [&](size_t i, size_t k) {
    const auto t = hn::Sub(LoadN(d, x + i, k, c), vc);
    acc.MulAdd(t, t);
  });
  return acc.Sum(d);
}

// acc[j] += v[j] for a row of n floats (the per-block partial sums of dgamma / dbeta).
template <class D>
HWY_INLINE void AddTo(D d, hn::Vec<D> v, float* acc, size_t k) {
  StoreN(d, hn::Add(LoadN(d, acc, k, 0.0f), v), acc, k);
}

}  // namespace engine::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
