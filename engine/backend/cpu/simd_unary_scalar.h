// Scalar (double) unary math: the f64 path of simd_unary.cpp, written for clarity rather than
// speed since it serves finite-difference gradchecks.
#pragma once
#include <cmath>

#include "engine/backend/cpu/simd_unary.h"

namespace engine::cpu::scalar {

inline constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
inline constexpr double kGeluTanhC = 0.044715;

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double normal_cdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752440); }
inline double normal_pdf(double x) { return std::exp(-0.5 * x * x) * 0.39894228040143267794; }
// 0.5x(1 + tanh u) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³).
inline double gelu_tanh_s(double x) {
  return sigmoid(2 * kSqrt2OverPi * x * (1 + kGeluTanhC * x * x));
}

inline double forward(Unary op, double x) {
  switch (op) {
    case Unary::Exp: return std::exp(x);
    case Unary::Log: return std::log(x);
    case Unary::Sqrt: return std::sqrt(x);
    case Unary::Rsqrt: return 1.0 / std::sqrt(x);
    case Unary::Tanh: return std::tanh(x);
    case Unary::Sigmoid: return sigmoid(x);
    case Unary::Relu: return x < 0 ? 0.0 : x;  // keeps NaN
    case Unary::Gelu: return x * normal_cdf(x);
    case Unary::GeluTanh: return x * gelu_tanh_s(x);
    case Unary::Silu: return x * sigmoid(x);
    case Unary::Neg: return -x;
    case Unary::Abs: return std::fabs(x);
    case Unary::Square: return x * x;
  }
  return 0;
}

// f'(x), from x or from y = f(x), whichever unary_grad_needs_* names.
inline double derivative(Unary op, double x, double y) {
  switch (op) {
    case Unary::Exp: return y;
    case Unary::Log: return 1.0 / x;
    case Unary::Sqrt: return 0.5 / y;
    case Unary::Rsqrt: return -0.5 * y * y * y;
    case Unary::Tanh: return 1.0 - y * y;
    case Unary::Sigmoid: return y * (1.0 - y);
    case Unary::Relu: return x > 0 ? 1.0 : 0.0;
    case Unary::Gelu: return normal_cdf(x) + x * normal_pdf(x);
    case Unary::GeluTanh: {
      const double s = gelu_tanh_s(x);
      const double du2 = 2 * kSqrt2OverPi * (1 + 3 * kGeluTanhC * x * x);
      return s + x * s * (1 - s) * du2;
    }
    case Unary::Silu: {
      const double s = sigmoid(x);
      return s * (1 + x * (1 - s));
    }
    case Unary::Neg: return -1.0;
    case Unary::Abs: return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
    case Unary::Square: return 2 * x;
  }
  return 0;
}

}  // namespace engine::cpu::scalar
