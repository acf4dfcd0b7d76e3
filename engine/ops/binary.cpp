// Binary elementwise ops: one broadcasting kernel (map2) parameterised by a functor, and
// each op's vjp beside it. Half types compute in f32 and round once at the end. GPU tensors
// run the same ops on backend/cuda's binary/compare/where kernels.
#include "engine/ops/binary.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"
#include "engine/core/strided.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"
#include "engine/ops/unary.h"

namespace engine {
using autograd::Node;
using autograd::Recorder;
using Grads = std::vector<Tensor>;

namespace {

// out = f(a, b) over the broadcast shape, computed in the promoted type (or bool output).
template <typename F>
Tensor map2(const char* op, const Tensor& a, const Tensor& b, F f, bool bool_out = false) {
  NoGradGuard no_grad;  // the caller records the op; conversions here are internal
  DType dt = promote(a.dtype(), b.dtype()), ct = compute_dtype(dt);
  if (!a.device().is_cpu() || !b.device().is_cpu()) {  // GPU: in dt's storage, f32 compute for halves
    Tensor out = bool_out ? cuda::compare(op, a, b) : cuda::binary(op, a, b);
    count_kernel(op, out.numel());
    return out;
  }
  Tensor x = to_dtype(a, ct), y = to_dtype(b, ct);
  Shape shape = broadcast_shapes(x.shape(), y.shape(), op);
  Tensor out = empty(shape, bool_out ? DType::boolean : ct);
  auto plan = make_plan<3>(shape, {out.strides(), broadcast_strides(x.shape(), x.strides(), shape),
                                   broadcast_strides(y.shape(), y.strides(), shape)});
  count_kernel(op, out.numel());
  dispatch(ct, op, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) {
      fail<DTypeError>("[", op, "] internal: half compute");
    } else {
      const T* px = x.data<T>();
      const T* py = y.data<T>();
      auto run = [&]<typename O>(O* po) {
        for_each_row(plan, [&](std::array<int64_t, 3> off, int64_t n, std::array<int64_t, 3> st) {
          O* o = po + off[0];
          const T *u = px + off[1], *v = py + off[2];
          if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
            for (int64_t i = 0; i < n; ++i) o[i] = O(f(u[i], v[i]));
          } else {
            for (int64_t i = 0; i < n; ++i) o[i * st[0]] = O(f(u[i * st[1]], v[i * st[2]]));
          }
        });
      };
      if (bool_out) run(out.data<bool>());
      else run(out.data<T>());
    }
  });
  return bool_out || dt == ct ? out : to_dtype(out, dt);
}

Tensor scalar_like(const Tensor& a, double s) {
  return scalar(s, is_floating(a.dtype()) ? a.dtype() : DType::f64);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = map2("add", a, b, [](auto x, auto y) { return x + y; });
  Recorder rec("add", {a, b});
  if (!rec) return out;
  Shape sa = a.shape(), sb = b.shape();
  return rec.finish(out, [sa, sb](const Tensor& g, Node& n) -> Grads {
    return {n.needs(0) ? sum_to(g, sa) : Tensor{}, n.needs(1) ? sum_to(g, sb) : Tensor{}};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = map2("sub", a, b, [](auto x, auto y) { return x - y; });
  Recorder rec("sub", {a, b});
  if (!rec) return out;
  Shape sa = a.shape(), sb = b.shape();
  return rec.finish(out, [sa, sb](const Tensor& g, Node& n) -> Grads {
    return {n.needs(0) ? sum_to(g, sa) : Tensor{}, n.needs(1) ? sum_to(neg(g), sb) : Tensor{}};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = map2("mul", a, b, [](auto x, auto y) { return x * y; });
  Recorder rec("mul", {a, b});
  if (!rec) return out;
  // Save only what the needed gradients use: d/da needs b, d/db needs a.
  rec.save({rec.needs(1) ? a : Tensor{}, rec.needs(0) ? b : Tensor{}});
  Shape sa = a.shape(), sb = b.shape();
  return rec.finish(out, [sa, sb](const Tensor& g, Node& n) -> Grads {
    return {n.needs(0) ? sum_to(mul(g, n.saved[1]), sa) : Tensor{},
            n.needs(1) ? sum_to(mul(g, n.saved[0]), sb) : Tensor{}};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = map2("div", a, b, [](auto x, auto y) { return x / y; });
  Recorder rec("div", {a, b});
  if (!rec) return out;
  rec.save({rec.needs(1) ? out : Tensor{}, b});
  Shape sa = a.shape(), sb = b.shape();
  return rec.finish(out, [sa, sb](const Tensor& g, Node& n) -> Grads {
    const Tensor &y = n.saved[0], &den = n.saved[1];
    Tensor gb;
    if (n.needs(1)) gb = sum_to(neg(div(mul(g, y), den)), sb);  // d(a/b)/db = -(a/b)/b
    return {n.needs(0) ? sum_to(div(g, den), sa) : Tensor{}, gb};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = map2("pow", a, b, [](auto x, auto y) { return std::pow(x, y); });
  Recorder rec("pow", {a, b});
  if (!rec) return out;
  rec.save({a, b, rec.needs(1) ? out : Tensor{}});
  Shape sa = a.shape(), sb = b.shape();
  return rec.finish(out, [sa, sb](const Tensor& g, Node& n) -> Grads {
    const Tensor &x = n.saved[0], &e = n.saved[1];
    Tensor ga, gb;
    if (n.needs(0)) ga = sum_to(mul(g, mul(e, pow(x, sub(e, 1.0)))), sa);
    if (n.needs(1)) gb = sum_to(mul(g, mul(n.saved[2], log(x))), sb);
    return {ga, gb};
  });
}

namespace {
// maximum/minimum share a vjp: the winner gets the gradient, ties split it in half.
Tensor extremum(const char* op, const Tensor& a, const Tensor& b, bool is_max) {
  Tensor out = is_max ? map2(op, a, b, [](auto x, auto y) { return x > y || x != x ? x : y; })
                      : map2(op, a, b, [](auto x, auto y) { return x < y || x != x ? x : y; });
  Recorder rec(op, {a, b});
  if (!rec) return out;
  rec.save({a, b});
  Shape sa = a.shape(), sb = b.shape();
  return rec.finish(out, [sa, sb, is_max](const Tensor& g, Node& n) -> Grads {
    const Tensor &x = n.saved[0], &y = n.saved[1];
    Tensor wins_a = is_max ? gt(x, y) : lt(x, y), tie = eq(x, y);
    Tensor share_a = add(to_dtype(wins_a, g.dtype()), mul(to_dtype(tie, g.dtype()), 0.5));
    Tensor ga, gb;
    if (n.needs(0)) ga = sum_to(mul(g, share_a), sa);
    if (n.needs(1)) gb = sum_to(mul(g, rsub(1.0, share_a)), sb);
    return {ga, gb};
  });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", a, b, false); }

// Scalar forms: a scalar is a 0-d tensor that never requires grad, so the tensor vjps apply.
Tensor add(const Tensor& a, double s) { return add(a, scalar_like(a, s)); }
Tensor sub(const Tensor& a, double s) { return sub(a, scalar_like(a, s)); }
Tensor rsub(double s, const Tensor& a) { return sub(scalar_like(a, s), a); }
Tensor mul(const Tensor& a, double s) { return mul(a, scalar_like(a, s)); }
Tensor div(const Tensor& a, double s) { return mul(a, scalar_like(a, 1.0 / s)); }
Tensor maximum(const Tensor& a, double s) { return maximum(a, scalar_like(a, s)); }
Tensor minimum(const Tensor& a, double s) { return minimum(a, scalar_like(a, s)); }
Tensor clamp(const Tensor& a, double lo, double hi) { return minimum(maximum(a, lo), hi); }

Tensor pow(const Tensor& a, double e) {
  Tensor out = map2("pow", a, scalar_like(a, e), [](auto x, auto y) { return std::pow(x, y); });
  Recorder rec("pow", {a});
  if (!rec) return out;
  rec.save({a});
  return rec.finish(out, [e](const Tensor& g, Node& n) -> Grads {
    return {mul(g, mul(pow(n.saved[0], e - 1.0), e))};
  });
}

#define ENGINE_COMPARISON(name, expr)                                                 \
  Tensor name(const Tensor& a, const Tensor& b) {                                     \
    return map2(#name, a, b, [](auto x, auto y) { return expr; }, true);              \
  }
ENGINE_COMPARISON(eq, x == y)
ENGINE_COMPARISON(ne, x != y)
ENGINE_COMPARISON(lt, x < y)
ENGINE_COMPARISON(le, x <= y)
ENGINE_COMPARISON(gt, x > y)
ENGINE_COMPARISON(ge, x >= y)
ENGINE_COMPARISON(logical_and, bool(x) && bool(y))
#undef ENGINE_COMPARISON
Tensor eq(const Tensor& a, double s) { return eq(a, scalar_like(a, s)); }
Tensor ne(const Tensor& a, double s) { return ne(a, scalar_like(a, s)); }
Tensor lt(const Tensor& a, double s) { return lt(a, scalar_like(a, s)); }
Tensor gt(const Tensor& a, double s) { return gt(a, scalar_like(a, s)); }
Tensor logical_not(const Tensor& a) { return eq(to_dtype(a, DType::boolean), scalar(0.0, DType::boolean)); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor c = to_dtype(cond, DType::boolean);
  Shape shape = broadcast_shapes(broadcast_shapes(c.shape(), a.shape(), "where"), b.shape(), "where");
  DType dt = promote(a.dtype(), b.dtype());
  Tensor out;
  if (!c.device().is_cpu() || !a.device().is_cpu() || !b.device().is_cpu()) {
    out = cuda::where(c, a, b);
    count_kernel("where", out.numel());
  } else {
    out = empty(shape, dt);
    NoGradGuard no_grad;
    copy_(out, b);
    Tensor picked = empty(shape, dt);
    copy_(picked, a);
    Tensor cb = expand(c, shape).contiguous();
    count_kernel("where", out.numel());
    dispatch(dt, "where", [&]<typename T>() {
      const bool* m = cb.data<bool>();
      const T* pa = picked.data<T>();
      T* po = out.data<T>();
      for (int64_t i = 0; i < out.numel(); ++i)
        if (m[i]) po[i] = pa[i];
    });
  }
  Recorder rec("where", {a, b});
  if (!rec) return out;
  rec.save({c});
  Shape sa = a.shape(), sb = b.shape();
  return rec.finish(out, [sa, sb](const Tensor& g, Node& n) -> Grads {
    Tensor zero = zeros({}, g.dtype());
    return {n.needs(0) ? sum_to(where(n.saved[0], g, zero), sa) : Tensor{},
            n.needs(1) ? sum_to(where(n.saved[0], zero, g), sb) : Tensor{}};
  });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  return where(mask, scalar(value, x.dtype()), x);
}

void add_(const Tensor& dst, const Tensor& src, double alpha) {
  NoGradGuard no_grad;
  Tensor s = alpha == 1.0 ? src : mul(src, alpha);
  Tensor sum = add(dst, s);
  copy_(dst, sum);
}

void mul_(const Tensor& dst, double s) {
  NoGradGuard no_grad;
  copy_(dst, mul(dst, s));
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double s) { return add(a, s); }
Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
Tensor operator/(const Tensor& a, double s) { return div(a, s); }
Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace engine
