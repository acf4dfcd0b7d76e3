// Per-target SIMD math shared by the float kernels (include it after hwy/highway.h, once per
// Highway target, like any *-inl.h): exp/log with IEEE edge cases, sigmoid, erfc and the
// normal CDF, the two GELUs, and a Map helper that runs a vector function over a range.
// Highway 1.0.3's Exp/Log are only valid on part of the real line and it has no Erf, hence
// the wrappers and the Cephes-based erfc below.

// Per-target include guard (the standard Highway idiom).
#if defined(ENGINE_BACKEND_CPU_SIMD_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ENGINE_BACKEND_CPU_SIMD_MATH_INL_H_
#undef ENGINE_BACKEND_CPU_SIMD_MATH_INL_H_
#else
#define ENGINE_BACKEND_CPU_SIMD_MATH_INL_H_
#endif

#include <cstring>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace engine::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// e^x on the whole line: +inf above ~88.7, 0 below ~-103, NaN stays NaN.
template <class D, class V>
HWY_INLINE V SafeExp(D d, V x) {
  // Highway's Exp is valid up to +104; clamping there still overflows to +inf.
  const V e = hn::Exp(d, hn::Min(x, hn::Set(d, 100.0f)));
  return hn::IfThenElse(hn::IsNaN(x), x, e);
}

// ln x with log(0) = -inf, log(+inf) = +inf, log(x<0) = NaN (Highway's Log covers (0, max]).
template <class D, class V>
HWY_INLINE V SafeLog(D d, V x) {
  const V inf = hn::Set(d, std::numeric_limits<float>::infinity());
  const V nan = hn::Set(d, std::numeric_limits<float>::quiet_NaN());
  V r = hn::Log(d, x);
  r = hn::IfThenElse(hn::Eq(x, hn::Zero(d)), hn::Neg(inf), r);
  r = hn::IfThenElse(hn::Eq(x, inf), inf, r);
  // Not (x >= 0) catches both negatives and NaN.
  return hn::IfThenElse(hn::Not(hn::Ge(x, hn::Zero(d))), nan, r);
}

// 1 / (1 + e^-x): exact to the ulp in both tails (no 1 - tiny cancellation).
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  return hn::Div(one, hn::Add(one, SafeExp(d, hn::Neg(x))));
}

// Horner evaluation of c[0]·x^(n-1) + ... + c[n-1] (Cephes polevl order).
template <size_t kN, class D, class V>
HWY_INLINE V Poly(D d, V x, const float (&c)[kN]) {
  V r = hn::Set(d, c[0]);
  for (size_t i = 1; i < kN; ++i) r = hn::MulAdd(r, x, hn::Set(d, c[i]));
  return r;
}

// erfc(z) for float, after Cephes ndtrf.c (S. Moshier): 1 - z·T(z²) for |z| < 1, else
// exp(-z²)·(1/|z|)·{P or R}(1/z²), reflected for z < 0. The tail keeps its relative accuracy,
// which GELU's negative side needs. exp(-z²) is corrected by the rounding error of z² (an
// FMA gives it exactly) so that error does not grow with z².
template <class D, class V>
HWY_INLINE V Erfc(D d, V z) {
  static constexpr float kT[] = {7.853861353153693E-5f, -8.010193625184903E-4f,
                                 5.188327685732524E-3f, -2.685381193529856E-2f,
                                 1.128358514861418E-1f, -3.761262582423300E-1f,
                                 1.128379165726710E+0f};
  static constexpr float kP[] = {2.326819970068386E-2f, -1.387039388740657E-1f,
                                 3.687424674597105E-1f, -5.824733027278666E-1f,
                                 6.210004621745983E-1f, -4.944515323274145E-1f,
                                 3.404879937665872E-1f, -2.741127028184656E-1f,
                                 5.638259427386472E-1f};
  static constexpr float kR[] = {-1.047766399936249E+1f, 1.297719955372516E+1f,
                                 -7.495518717768503E+0f, 2.921019019210786E+0f,
                                 -1.015265279202700E+0f, 4.218463358204948E-1f,
                                 -2.820767439740514E-1f, 5.641895067754075E-1f};
  const V one = hn::Set(d, 1.0f);
  const V a = hn::Abs(z);
  const V small = hn::NegMulAdd(z, Poly(d, hn::Mul(z, z), kT), one);  // 1 - erf(z)

  const V a2 = hn::Mul(a, a);
  const V a2_err = hn::MulSub(a, a, a2);  // a·a - a2, exact with FMA
  V e = hn::Exp(d, hn::Neg(hn::Min(a2, hn::Set(d, 100.0f))));
  e = hn::NegMulAdd(e, a2_err, e);  // exp(-(a2 + err)) ≈ exp(-a2)·(1 - err)
  const V q = hn::Div(one, a);
  const V y = hn::Mul(q, q);
  const V p = hn::IfThenElse(hn::Lt(a, hn::Set(d, 2.0f)), Poly(d, y, kP), Poly(d, y, kR));
  // Past |z| = 10 erfc is below float's smallest subnormal (and inf would give NaN).
  V big = hn::IfThenElseZero(hn::Lt(a, hn::Set(d, 10.0f)), hn::Mul(hn::Mul(e, q), p));
  big = hn::IfThenElse(hn::Lt(z, hn::Zero(d)), hn::Sub(hn::Set(d, 2.0f), big), big);
  return hn::IfThenElse(hn::Lt(a, one), small, big);
}

// Φ(x), the standard normal CDF = erfc(-x/√2)/2.
template <class D, class V>
HWY_INLINE V NormalCdf(D d, V x) {
  const V z = hn::Mul(x, hn::Set(d, -0.70710678118654752f));
  return hn::Mul(Erfc(d, z), hn::Set(d, 0.5f));
}

// φ(x) = exp(-x²/2)/√(2π), the standard normal density.
template <class D, class V>
HWY_INLINE V NormalPdf(D d, V x) {
  const V e = SafeExp(d, hn::Mul(hn::Mul(x, x), hn::Set(d, -0.5f)));
  return hn::Mul(e, hn::Set(d, 0.39894228040143268f));
}

// tanh-GELU's inner argument, doubled: 2u = 2√(2/π)·x·(1 + 0.044715x²). Then
// 0.5x(1 + tanh u) = x·sigmoid(2u), which avoids 1 + tanh u cancelling for x << 0.
template <class D, class V>
HWY_INLINE V GeluTanhArg2(D d, V x) {
  const V inner = hn::MulAdd(hn::Mul(x, x), hn::Set(d, 0.044715f), hn::Set(d, 1.0f));
  return hn::Mul(hn::Mul(x, inner), hn::Set(d, 1.5957691216057308f));
}

// Applies the vector function f(d, x) to n floats (x and y may alias). The tail goes through
// a padded buffer so that every element is computed by the same vector code.
template <class D, class F>
HWY_INLINE void Map1(D d, const float* x, float* y, size_t n, F f) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, y + i);
  if (i == n) return;
  HWY_ALIGN float bx[HWY_LANES(float)] = {};
  std::memcpy(bx, x + i, (n - i) * sizeof(float));
  hn::Store(f(d, hn::Load(d, bx)), d, bx);
  std::memcpy(y + i, bx, (n - i) * sizeof(float));
}

// Map1 with three inputs: out = f(d, a, b, c). out may alias any input.
template <class D, class F>
HWY_INLINE void Map3(D d, const float* a, const float* b, const float* c, float* out,
                     size_t n, F f) {
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(f(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i), hn::LoadU(d, c + i)), d, out + i);
  if (i == n) return;
  HWY_ALIGN float ba[HWY_LANES(float)] = {}, bb[HWY_LANES(float)] = {},
                  bc[HWY_LANES(float)] = {};
  const size_t bytes = (n - i) * sizeof(float);
  std::memcpy(ba, a + i, bytes);
  std::memcpy(bb, b + i, bytes);
  std::memcpy(bc, c + i, bytes);
  hn::Store(f(d, hn::Load(d, ba), hn::Load(d, bb), hn::Load(d, bc)), d, ba);
  std::memcpy(out + i, ba, bytes);
}

}  // namespace engine::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
