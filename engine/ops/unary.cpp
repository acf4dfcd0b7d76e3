// Unary ops: a scalar reference implementation (to be replaced by the SIMD kernels of
// backend/cpu). Forward computes y = f(x); the vjp computes gx = gy·f'(x) from saved x (and y).
#include "engine/ops/unary.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/core/counters.h"
#include "engine/ops/convert.h"

namespace engine {
namespace {

enum class U { neg, exp, log, sqrt, rsqrt, abs, square, tanh, sigmoid, relu, gelu, gelu_tanh, silu };
const char* names[] = {"neg", "exp", "log", "sqrt", "rsqrt", "abs", "square", "tanh",
                       "sigmoid", "relu", "gelu", "gelu_tanh", "silu"};

template <typename T>
T fwd(U op, T x) {
  constexpr T k = T(0.7978845608028654), c = T(0.044715);
  switch (op) {
    case U::neg: return -x;
    case U::exp: return std::exp(x);
    case U::log: return std::log(x);
    case U::sqrt: return std::sqrt(x);
    case U::rsqrt: return T(1) / std::sqrt(x);
    case U::abs: return std::abs(x);
    case U::square: return x * x;
    case U::tanh: return std::tanh(x);
    case U::sigmoid: return T(1) / (T(1) + std::exp(-x));
    case U::relu: return x > T(0) ? x : T(0);
    case U::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.7071067811865476)));
    case U::gelu_tanh: return T(0.5) * x * (T(1) + std::tanh(k * (x + c * x * x * x)));
    case U::silu: return x / (T(1) + std::exp(-x));
  }
  return x;
}

// f'(x), given x and y = f(x).
template <typename T>
T deriv(U op, T x, T y) {
  constexpr T k = T(0.7978845608028654), c = T(0.044715);
  switch (op) {
    case U::neg: return T(-1);
    case U::exp: return y;
    case U::log: return T(1) / x;
    case U::sqrt: return T(0.5) / y;
    case U::rsqrt: return T(-0.5) * y * y * y;
    case U::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case U::square: return T(2) * x;
    case U::tanh: return T(1) - y * y;
    case U::sigmoid: return y * (T(1) - y);
    case U::relu: return x > T(0) ? T(1) : T(0);
    case U::gelu: {
      T cdf = T(0.5) * (T(1) + std::erf(x * T(0.7071067811865476)));
      return cdf + x * T(0.3989422804014327) * std::exp(T(-0.5) * x * x);
    }
    case U::gelu_tanh: {
      T t = std::tanh(k * (x + c * x * x * x));
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c * x * x);
    }
    case U::silu: {
      T s = T(1) / (T(1) + std::exp(-x));
      return s * (T(1) + x * (T(1) - s));
    }
  }
  return T(0);
}

Tensor apply(U op, const Tensor& x_in) {
  const char* name = names[int(op)];
  check<NoKernelError>(x_in.device().is_cpu(), "no ", x_in.device().str(), " kernel for ", name);
  Tensor x;
  {
    NoGradGuard no_grad;
    DType ct = x_in.dtype() == DType::f64 ? DType::f64 : DType::f32;
    x = to_dtype(x_in, ct).contiguous();
  }
  Tensor y = empty(x.shape(), x.dtype());
  count_kernel(name, x.numel());
  dispatch_compute(x.dtype(), name, [&]<typename T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = fwd(op, px[i]);
  });
  if (y.dtype() != x_in.dtype()) {
    NoGradGuard no_grad;
    y = to_dtype(y, x_in.dtype());
  }
  autograd::Recorder rec(name, {x_in});
  if (!rec) return y;
  rec.save({x, y});
  return rec.finish(y, [op, name](const Tensor& g_in, autograd::Node& n) -> std::vector<Tensor> {
    const Tensor &x = n.saved[0], &y = n.saved[1];
    Tensor g = to_dtype(g_in, x.dtype()).contiguous();
    Tensor yc = to_dtype(y, x.dtype()).contiguous();
    Tensor gx = empty(x.shape(), x.dtype());
    count_kernel(name, x.numel());
    dispatch_compute(x.dtype(), name, [&]<typename T>() {
      const T *px = x.data<T>(), *py = yc.data<T>(), *pg = g.data<T>();
      T* out = gx.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) out[i] = pg[i] * deriv(op, px[i], py[i]);
    });
    return {gx};
  });
}

}  // namespace

Tensor neg(const Tensor& x) { return apply(U::neg, x); }
Tensor exp(const Tensor& x) { return apply(U::exp, x); }
Tensor log(const Tensor& x) { return apply(U::log, x); }
Tensor sqrt(const Tensor& x) { return apply(U::sqrt, x); }
Tensor rsqrt(const Tensor& x) { return apply(U::rsqrt, x); }
Tensor abs(const Tensor& x) { return apply(U::abs, x); }
Tensor square(const Tensor& x) { return apply(U::square, x); }
Tensor tanh(const Tensor& x) { return apply(U::tanh, x); }
Tensor sigmoid(const Tensor& x) { return apply(U::sigmoid, x); }
Tensor relu(const Tensor& x) { return apply(U::relu, x); }
Tensor gelu(const Tensor& x) { return apply(U::gelu, x); }
Tensor gelu_tanh(const Tensor& x) { return apply(U::gelu_tanh, x); }
Tensor silu(const Tensor& x) { return apply(U::silu, x); }

}  // namespace engine
