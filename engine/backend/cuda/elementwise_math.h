// The per-element maths of the CUDA elementwise and reduction kernels, as __host__ __device__
// functions in plain C++17: nvcc compiles them into the kernels, and the CPU-run tests
// (tests/engine/test_cuda_parity.cpp, CudaMath.*) check them against the CPU backend on
// machines without a GPU. C is the compute type: float for f32/bf16/f16 storage, double for
// f64, the integer itself for i32/i64 (int32 for bool).
#pragma once
#include <math.h>

#include <cstdint>

#include "engine/backend/cuda/kernels.h"

#if defined(__CUDACC__)
#define ENGINE_HD __host__ __device__ __forceinline__
#else
#define ENGINE_HD inline
#endif

namespace engine::cuda::kernels {

template <typename C>
ENGINE_HD C pow_of(C x, C y) {
  return C(::pow(double(x), double(y)));  // integers: as the CPU's std::pow then truncation
}
template <>
ENGINE_HD float pow_of<float>(float x, float y) { return ::powf(x, y); }

// a (op) b as map2's functors in engine/ops/binary.cpp: maximum/minimum keep a NaN from either side.
template <typename C>
ENGINE_HD C binary_op(BinOp op, C x, C y) {
  switch (op) {
    case BinOp::Add: return C(x + y);
    case BinOp::Sub: return C(x - y);
    case BinOp::Mul: return C(x * y);
    case BinOp::Div: return C(x / y);
    case BinOp::Pow: return pow_of(x, y);
    case BinOp::Max: return x > y || x != x ? x : y;
    case BinOp::Min: return x < y || x != x ? x : y;
  }
  return x;
}

template <typename C>
ENGINE_HD bool compare_op(CmpOp op, C x, C y) {
  switch (op) {
    case CmpOp::Eq: return x == y;
    case CmpOp::Ne: return x != y;
    case CmpOp::Lt: return x < y;
    case CmpOp::Le: return x <= y;
    case CmpOp::Gt: return x > y;
    case CmpOp::Ge: return x >= y;
    case CmpOp::And: return x != C(0) && y != C(0);  // NaN counts as true, as bool(NaN)
  }
  return false;
}

// ---- unary activations in f32: the twins of backend/cpu/simd_unary_scalar.h.
inline constexpr float kSqrt2OverPi = 0.79788456080286535588f, kGeluTanhC = 0.044715f;

ENGINE_HD float sigmoid_f(float x) { return 1.f / (1.f + ::expf(-x)); }
ENGINE_HD float normal_cdf_f(float x) { return 0.5f * ::erfcf(-x * 0.70710678118654752440f); }
ENGINE_HD float normal_pdf_f(float x) { return ::expf(-0.5f * x * x) * 0.39894228040143267794f; }
// 0.5x(1 + tanh u) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³).
ENGINE_HD float gelu_tanh_s_f(float x) { return sigmoid_f(2.f * kSqrt2OverPi * x * (1.f + kGeluTanhC * x * x)); }
ENGINE_HD float rsqrt_f(float x) {
#if defined(__CUDA_ARCH__)
  return ::rsqrtf(x);
#else
  return 1.f / ::sqrtf(x);
#endif
}

ENGINE_HD float unary_value(cpu::Unary op, float x) {
  using U = cpu::Unary;
  switch (op) {
    case U::Exp: return ::expf(x);
    case U::Log: return ::logf(x);
    case U::Sqrt: return ::sqrtf(x);
    case U::Rsqrt: return rsqrt_f(x);
    case U::Tanh: return ::tanhf(x);
    case U::Sigmoid: return sigmoid_f(x);
    case U::Relu: return x < 0.f ? 0.f : x;  // keeps NaN
    case U::Gelu: return x * normal_cdf_f(x);
    case U::GeluTanh: return x * gelu_tanh_s_f(x);
    case U::Silu: return x * sigmoid_f(x);
    case U::Neg: return -x;
    case U::Abs: return ::fabsf(x);
    case U::Square: return x * x;
  }
  return 0.f;
}

// f'(x) from x or y = f(x), whichever cpu::unary_grad_needs_* names (the other may be 0).
ENGINE_HD float unary_derivative(cpu::Unary op, float x, float y) {
  using U = cpu::Unary;
  switch (op) {
    case U::Exp: return y;
    case U::Log: return 1.f / x;
    case U::Sqrt: return 0.5f / y;
    case U::Rsqrt: return -0.5f * y * y * y;
    case U::Tanh: return 1.f - y * y;
    case U::Sigmoid: return y * (1.f - y);
    case U::Relu: return x > 0.f ? 1.f : 0.f;
    case U::Gelu: return normal_cdf_f(x) + x * normal_pdf_f(x);
    case U::GeluTanh: {
      float s = gelu_tanh_s_f(x), du2 = 2.f * kSqrt2OverPi * (1.f + 3.f * kGeluTanhC * x * x);
      return s + x * s * (1.f - s) * du2;
    }
    case U::Silu: {
      float s = sigmoid_f(x);
      return s * (1.f + x * (1.f - s));
    }
    case U::Neg: return -1.f;
    case U::Abs: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case U::Square: return 2.f * x;
  }
  return 0.f;
}

// ---- arg-max: a candidate (value, index); index −1 is "nothing seen". The CPU scans in index
// order keeping the first strict maximum, and the first NaN over any number; that result is the
// top of one total order (NaN above numbers, then larger value, then smaller index), so picking
// the better of two candidates is associative and commutative: any reduction tree gives the
// CPU's answer exactly.
template <typename V>
struct ArgMax {
  V v;
  int64_t i;
};

template <typename V>
ENGINE_HD ArgMax<V> argmax_pick(ArgMax<V> a, ArgMax<V> b) {
  if (b.i < 0) return a;
  if (a.i < 0) return b;
  const bool an = a.v != a.v, bn = b.v != b.v;
  if (an != bn) return an ? a : b;
  if (!an && a.v != b.v) return a.v > b.v ? a : b;
  return a.i < b.i ? a : b;
}

}  // namespace engine::cuda::kernels
