// Elementwise unary kernels: float through Highway dynamic dispatch (this file is compiled
// once per SIMD target via foreach_target.h), double as plain scalar C++. See simd_unary.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/backend/cpu/simd_unary.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "engine/backend/cpu/simd_math-inl.h"
#include "engine/backend/cpu/simd_unary.h"

HWY_BEFORE_NAMESPACE();
namespace engine::cpu::HWY_NAMESPACE {

void UnaryForwardF32(int op, const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  auto run = [&](auto f) { Map1(d, x, y, n, f); };
  switch (static_cast<Unary>(op)) {
    case Unary::Exp: return run([](auto d, V v) { return SafeExp(d, v); });
    case Unary::Log: return run([](auto d, V v) { return SafeLog(d, v); });
    case Unary::Sqrt: return run([](auto, V v) { return hn::Sqrt(v); });
    case Unary::Rsqrt:
      return run([](auto d, V v) { return hn::Div(hn::Set(d, 1.0f), hn::Sqrt(v)); });
    case Unary::Tanh: return run([](auto d, V v) { return hn::Tanh(d, v); });
    case Unary::Sigmoid: return run([](auto d, V v) { return Sigmoid(d, v); });
    // Written as a select (not Max) so that relu(NaN) stays NaN, like torch.
    case Unary::Relu: return run([](auto d, V v) { return hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v); });
    case Unary::Gelu: return run([](auto d, V v) { return hn::Mul(v, NormalCdf(d, v)); });
    case Unary::GeluTanh:
      return run([](auto d, V v) { return hn::Mul(v, Sigmoid(d, GeluTanhArg2(d, v))); });
    case Unary::Silu: return run([](auto d, V v) { return hn::Mul(v, Sigmoid(d, v)); });
    case Unary::Neg: return run([](auto, V v) { return hn::Neg(v); });
    case Unary::Abs: return run([](auto, V v) { return hn::Abs(v); });
    case Unary::Square: return run([](auto, V v) { return hn::Mul(v, v); });
  }
}

// gx = gy · f'(x), written with whichever of x / y is cheaper (see unary_grad_needs_*).
void UnaryBackwardF32(int op, const float* x, const float* y, const float* gy, float* gx,
                      size_t n) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  // Unused inputs are never read by the lambda; point them at gy so loads stay in bounds.
  auto run = [&](auto f) { Map3(d, x ? x : gy, y ? y : gy, gy, gx, n, f); };
  const V one = hn::Set(d, 1.0f), half = hn::Set(d, 0.5f);
  switch (static_cast<Unary>(op)) {
    case Unary::Exp: return run([](auto, V, V y, V g) { return hn::Mul(g, y); });
    case Unary::Log: return run([](auto, V x, V, V g) { return hn::Div(g, x); });
    case Unary::Sqrt: return run([&](auto, V, V y, V g) { return hn::Div(hn::Mul(g, half), y); });
    case Unary::Rsqrt:  // d/dx x^-1/2 = -y³/2
      return run([&](auto, V, V y, V g) {
        return hn::Mul(hn::Mul(g, hn::Neg(half)), hn::Mul(hn::Mul(y, y), y));
      });
    case Unary::Tanh:
      return run([&](auto, V, V y, V g) { return hn::Mul(g, hn::NegMulAdd(y, y, one)); });
    case Unary::Sigmoid:
      return run([&](auto, V, V y, V g) { return hn::Mul(hn::Mul(g, y), hn::Sub(one, y)); });
    case Unary::Relu:
      return run([](auto d, V x, V, V g) { return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), g); });
    case Unary::Gelu:  // Φ(x) + x·φ(x)
      return run([](auto d, V x, V, V g) {
        return hn::Mul(g, hn::MulAdd(x, NormalPdf(d, x), NormalCdf(d, x)));
      });
    case Unary::GeluTanh:  // f = x·s, s = sigmoid(2u): f' = s + x·2s(1-s)·u'
      return run([&](auto d, V x, V, V g) {
        const V s = Sigmoid(d, GeluTanhArg2(d, x));
        const V du2 = hn::Mul(hn::MulAdd(hn::Mul(x, x), hn::Set(d, 3 * 0.044715f), one),
                              hn::Set(d, 1.5957691216057308f));  // d(2u)/dx
        const V ds = hn::Mul(hn::Mul(s, hn::Sub(one, s)), du2);
        return hn::Mul(g, hn::MulAdd(x, ds, s));
      });
    case Unary::Silu:  // s·(1 + x·(1 - s))
      return run([&](auto d, V x, V, V g) {
        const V s = Sigmoid(d, x);
        return hn::Mul(hn::Mul(g, s), hn::MulAdd(x, hn::Sub(one, s), one));
      });
    case Unary::Neg: return run([](auto, V, V, V g) { return hn::Neg(g); });
    case Unary::Abs:  // sign(x)·g, with sign(0) = 0 like torch
      return run([](auto d, V x, V, V g) {
        const V z = hn::Zero(d);
        return hn::IfThenElse(hn::Gt(x, z), g, hn::IfThenElse(hn::Lt(x, z), hn::Neg(g), z));
      });
    case Unary::Square:
      return run([](auto d, V x, V, V g) { return hn::Mul(hn::Mul(g, x), hn::Set(d, 2.0f)); });
  }
}

}  // namespace engine::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "engine/backend/cpu/simd_parallel.h"
#include "engine/backend/cpu/simd_unary_scalar.h"

namespace engine::cpu {

HWY_EXPORT(UnaryForwardF32);
HWY_EXPORT(UnaryBackwardF32);

const char* unary_name(Unary op) {
  switch (op) {
    case Unary::Exp: return "exp";
    case Unary::Log: return "log";
    case Unary::Sqrt: return "sqrt";
    case Unary::Rsqrt: return "rsqrt";
    case Unary::Tanh: return "tanh";
    case Unary::Sigmoid: return "sigmoid";
    case Unary::Relu: return "relu";
    case Unary::Gelu: return "gelu";
    case Unary::GeluTanh: return "gelu_tanh";
    case Unary::Silu: return "silu";
    case Unary::Neg: return "neg";
    case Unary::Abs: return "abs";
    case Unary::Square: return "square";
  }
  return "?";
}

bool unary_grad_needs_output(Unary op) {
  return op == Unary::Exp || op == Unary::Sqrt || op == Unary::Rsqrt || op == Unary::Tanh ||
         op == Unary::Sigmoid;
}

bool unary_grad_needs_input(Unary op) {
  return op != Unary::Neg && !unary_grad_needs_output(op);
}

template <>
void unary_forward<float>(Unary op, const float* x, float* y, int64_t n) {
  for_chunks(n, kElementChunk, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(UnaryForwardF32)(static_cast<int>(op), x + b, y + b, size_t(e - b));
  });
}

template <>
void unary_backward<float>(Unary op, const float* x, const float* y, const float* gy,
                           float* gx, int64_t n) {
  for_chunks(n, kElementChunk, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(UnaryBackwardF32)(static_cast<int>(op), x ? x + b : nullptr,
                                           y ? y + b : nullptr, gy + b, gx + b, size_t(e - b));
  });
}

template <>
void unary_forward<double>(Unary op, const double* x, double* y, int64_t n) {
  for_chunks(n, kElementChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = scalar::forward(op, x[i]);
  });
}

template <>
void unary_backward<double>(Unary op, const double* x, const double* y, const double* gy,
                            double* gx, int64_t n) {
  for_chunks(n, kElementChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      gx[i] = gy[i] * scalar::derivative(op, x ? x[i] : 0.0, y ? y[i] : 0.0);
  });
}

}  // namespace engine::cpu
#endif  // HWY_ONCE
