// Highway implementations of reduce_simd.h. foreach_target.h re-includes this file once per
// x86 target; HWY_DYNAMIC_DISPATCH picks the best at run time (no -march flag needed).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/backend/cpu/reduce_simd.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/highway.h>

#include <cstdint>

#include "engine/backend/cpu/reduce_simd.h"

HWY_BEFORE_NAMESPACE();
namespace engine::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Four independent vector accumulators hide the add latency and, as a side effect, make the
// sum of a long run more accurate than one running total.
template <typename T>
T SumRun(const T* x, int64_t n) {
  const hn::ScalableTag<T> d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + N));
    s2 = hn::Add(s2, hn::LoadU(d, x + i + 2 * N));
    s3 = hn::Add(s3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= n; i += N) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  T total = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  T tail = 0;
  for (; i < n; ++i) tail += x[i];
  return total + tail;
}

template <typename T>
void AddRow(T* acc, const T* x, int64_t n) {
  const hn::ScalableTag<T> d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Add(hn::LoadU(d, acc + i), hn::LoadU(d, x + i)), d, acc + i);
  for (; i < n; ++i) acc[i] += x[i];  // same rounding as a lane
}

float SumRunF32(const float* x, int64_t n) { return SumRun(x, n); }
double SumRunF64(const double* x, int64_t n) { return SumRun(x, n); }
int64_t SumRunI64(const int64_t* x, int64_t n) { return SumRun(x, n); }
void AddRowF32(float* a, const float* x, int64_t n) { AddRow(a, x, n); }
void AddRowF64(double* a, const double* x, int64_t n) { AddRow(a, x, n); }
void AddRowI64(int64_t* a, const int64_t* x, int64_t n) { AddRow(a, x, n); }

}  // namespace HWY_NAMESPACE
}  // namespace engine::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace engine::cpu {

HWY_EXPORT(SumRunF32);
HWY_EXPORT(SumRunF64);
HWY_EXPORT(SumRunI64);
HWY_EXPORT(AddRowF32);
HWY_EXPORT(AddRowF64);
HWY_EXPORT(AddRowI64);

float sum_run(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumRunF32)(x, n); }
double sum_run(const double* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumRunF64)(x, n); }
int64_t sum_run(const int64_t* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(SumRunI64)(x, n); }
void add_row(float* a, const float* x, int64_t n) { HWY_DYNAMIC_DISPATCH(AddRowF32)(a, x, n); }
void add_row(double* a, const double* x, int64_t n) { HWY_DYNAMIC_DISPATCH(AddRowF64)(a, x, n); }
void add_row(int64_t* a, const int64_t* x, int64_t n) { HWY_DYNAMIC_DISPATCH(AddRowI64)(a, x, n); }

}  // namespace engine::cpu
#endif  // HWY_ONCE
