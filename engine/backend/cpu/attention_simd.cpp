// Highway implementations of the row loops in attention_simd.h. foreach_target.h re-includes
// this file once per x86 target; HWY_DYNAMIC_DISPATCH picks the best one at run time, so the
// binary needs no -march flag. Each row is one call, so tails are padded into a vector-sized
// buffer (with −inf for exp, 0 for the gradient) instead of a scalar remainder loop.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/backend/cpu/attention_simd.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <limits>

HWY_BEFORE_NAMESPACE();
namespace engine::cpu::attn {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <typename T>
T RowMax(const T* x, int64_t n) {
  const hn::ScalableTag<T> d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto mx = hn::Set(d, -std::numeric_limits<T>::infinity());
  int64_t c = 0;
  for (; c + N <= n; c += N) mx = hn::Max(mx, hn::LoadU(d, x + c));
  T m = hn::GetLane(hn::MaxOfLanes(d, mx));
  for (; c < n; ++c) m = std::max(m, x[c]);  // max is exact: a scalar tail is fine
  return m;
}

template <typename T>
T ExpShiftSum(T* x, int64_t n, T shift) {
  const hn::ScalableTag<T> d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto vshift = hn::Set(d, shift);
  auto sum = hn::Zero(d);
  int64_t c = 0;
  for (; c + N <= n; c += N) {
    auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + c), vshift));
    hn::StoreU(e, d, x + c);
    sum = hn::Add(sum, e);
  }
  if (c < n) {  // tail: pad with −inf so the padding adds exp(−inf) = 0
    HWY_ALIGN T buf[HWY_MAX_BYTES / sizeof(T)];
    std::fill(buf, buf + N, -std::numeric_limits<T>::infinity());
    std::copy(x + c, x + n, buf);
    auto e = hn::Exp(d, hn::Sub(hn::Load(d, buf), vshift));
    hn::Store(e, d, buf);
    sum = hn::Add(sum, e);
    std::copy(buf, buf + (n - c), x + c);
  }
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

template <typename T>
void SoftmaxGradRow(T* ds, const T* p, int64_t n, T delta) {
  const hn::ScalableTag<T> d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto vdelta = hn::Set(d, delta);
  int64_t c = 0;
  for (; c + N <= n; c += N)
    hn::StoreU(hn::Mul(hn::LoadU(d, p + c), hn::Sub(hn::LoadU(d, ds + c), vdelta)), d, ds + c);
  for (; c < n; ++c) ds[c] = p[c] * (ds[c] - delta);  // same rounding as the vector lanes
}

float RowMaxF32(const float* x, int64_t n) { return RowMax(x, n); }
double RowMaxF64(const double* x, int64_t n) { return RowMax(x, n); }
float ExpShiftSumF32(float* x, int64_t n, float s) { return ExpShiftSum(x, n, s); }
double ExpShiftSumF64(double* x, int64_t n, double s) { return ExpShiftSum(x, n, s); }
void SoftmaxGradRowF32(float* ds, const float* p, int64_t n, float dl) { SoftmaxGradRow(ds, p, n, dl); }
void SoftmaxGradRowF64(double* ds, const double* p, int64_t n, double dl) { SoftmaxGradRow(ds, p, n, dl); }

}  // namespace HWY_NAMESPACE
}  // namespace engine::cpu::attn
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace engine::cpu::attn {

HWY_EXPORT(RowMaxF32);
HWY_EXPORT(RowMaxF64);
HWY_EXPORT(ExpShiftSumF32);
HWY_EXPORT(ExpShiftSumF64);
HWY_EXPORT(SoftmaxGradRowF32);
HWY_EXPORT(SoftmaxGradRowF64);

float row_max(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(RowMaxF32)(x, n); }
double row_max(const double* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(RowMaxF64)(x, n); }
float exp_shift_sum(float* x, int64_t n, float s) { return HWY_DYNAMIC_DISPATCH(ExpShiftSumF32)(x, n, s); }
double exp_shift_sum(double* x, int64_t n, double s) { return HWY_DYNAMIC_DISPATCH(ExpShiftSumF64)(x, n, s); }
void softmax_grad_row(float* ds, const float* p, int64_t n, float delta) {
  HWY_DYNAMIC_DISPATCH(SoftmaxGradRowF32)(ds, p, n, delta);
}
void softmax_grad_row(double* ds, const double* p, int64_t n, double delta) {
  HWY_DYNAMIC_DISPATCH(SoftmaxGradRowF64)(ds, p, n, delta);
}

}  // namespace engine::cpu::attn
#endif  // HWY_ONCE
