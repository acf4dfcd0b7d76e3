// Reductions and their vjps: sum, mean and var spread the gradient back over the reduced dims;
// max sends it to the first arg-max. Kernels in engine/backend/cpu/reduce.cpp (deterministic
// for any thread count; GPU tensors run backend/cuda's reduce kernels, also deterministic);
// half types compute in f32, integer sums in i64.
#include "engine/ops/reduce.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/reduce.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"
#include "engine/ops/binary.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"

namespace engine {
using autograd::Node;
using autograd::Recorder;
using Grads = std::vector<Tensor>;

namespace {

// One flag per dim of x: reduce it? Empty `dims` reduces every dim.
std::vector<bool> reduce_flags(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  if (!x.device().is_cpu()) cuda::require(op, x.device());
  std::vector<bool> flags(size_t(x.dim()), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    check<ShapeError>(!flags[size_t(w)], "[", op, "] dim ", d, " repeated for ", shape_str(x.shape()));
    flags[size_t(w)] = true;
  }
  return flags;
}

// The output shape: reduced dims dropped, or kept as 1.
Shape reduced_shape(const Shape& shape, const std::vector<bool>& flags, bool keepdim) {
  Shape s;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!flags[d]) s.push_back(shape[d]);
    else if (keepdim) s.push_back(1);
  return s;
}

int64_t reduced_count(const Shape& shape, const std::vector<bool>& flags) {
  int64_t n = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if (flags[d]) n *= shape[d];
  return n;
}

bool is_half(DType d) { return d == DType::bf16 || d == DType::f16; }

// scale · Σ x over the flagged dims, in x's dtype (integers: i64), without autograd.
Tensor scaled_sum(const char* op, const Tensor& x, const std::vector<bool>& flags, bool keepdim,
                  double scale) {
  NoGradGuard no_grad;
  if (!x.device().is_cpu())  // reads x in its dtype, f32 accumulation, scaled and rounded once
    return cuda::sum_dims(op, x, flags, scale).view(reduced_shape(x.shape(), flags, keepdim));
  DType ct = is_half(x.dtype()) ? DType::f32 : is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor xc = to_dtype(x, ct);
  Tensor summed = cpu::sum_dims(op, xc, flags);
  Tensor out = summed.view(reduced_shape(x.shape(), flags, keepdim));
  if (scale != 1.0) out = mul(out, scale);
  return is_half(x.dtype()) ? to_dtype(out, x.dtype()) : out;
}

// The gradient of a reduction that spreads g (scaled) evenly over the reduced dims.
Tensor spread(const Tensor& g, const Shape& in, const std::vector<bool>& flags, double scale) {
  Tensor gs = scale == 1.0 ? g : mul(g, scale);
  return expand(reshape(gs, reduced_shape(in, flags, true)), in);
}

// gx = 0 except gx[..., idx[o, i], ...] = g[o, i] along `dim` of `in` (max's vjp).
Tensor scatter_along(const Tensor& g, const Tensor& idx, const Shape& in, int64_t dim) {
  Tensor gc = g.contiguous(), ic = idx.contiguous();
  Tensor gx = zeros(in, g.dtype(), g.device());
  if (!g.device().is_cpu()) {
    cuda::put_along(gx, dim, ic, gc);
    return gx;
  }
  int64_t outer = 1, inner = 1, n = in.empty() ? 1 : in[size_t(dim)];
  for (int64_t d = 0; d < dim; ++d) outer *= in[size_t(d)];
  for (size_t d = size_t(dim) + 1; d < in.size(); ++d) inner *= in[d];
  count_kernel("max_backward", gc.numel());
  dispatch(g.dtype(), "max_backward", [&]<typename T>() {
    const T* pg = gc.data<T>();
    const int64_t* pi = ic.data<int64_t>();
    T* px = gx.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        px[(o * n + pi[o * inner + i]) * inner + i] = pg[o * inner + i];
  });
  return gx;
}

// Max over the flagged dims (compute in f32 for half — on a GPU read in place —, i64 for
// bool); no autograd.
cpu::MaxOut max_kernel(const char* op, const Tensor& x, const std::vector<bool>& flags) {
  NoGradGuard no_grad;
  DType dt = x.dtype();
  if (!x.device().is_cpu()) {
    DType ct = dt == DType::boolean ? DType::i64 : dt;
    cuda::MaxOut r = cuda::max_dims(op, to_dtype(x, ct), flags);
    return {ct != dt ? to_dtype(r.values, dt) : r.values, r.indices};
  }
  DType ct = is_half(dt) ? DType::f32 : dt == DType::boolean ? DType::i64 : dt;
  cpu::MaxOut r = cpu::max_dims(op, to_dtype(x, ct), flags);
  if (ct != dt) r.values = to_dtype(r.values, dt);
  return r;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  auto flags = reduce_flags(x, dims, "sum");
  Tensor out = scaled_sum("sum", x, flags, keepdim, 1.0);
  Recorder rec("sum", {x});
  if (!rec) return out;
  Shape in = x.shape();
  return rec.finish(out, [in, flags](const Tensor& g, Node&) -> Grads { return {spread(g, in, flags, 1.0)}; });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  auto flags = reduce_flags(x, dims, "mean");
  check<DTypeError>(is_floating(x.dtype()), "[mean] expects a floating dtype, got ", dtype_name(x.dtype()));
  double scale = 1.0 / double(reduced_count(x.shape(), flags));
  Tensor out = scaled_sum("mean", x, flags, keepdim, scale);
  Recorder rec("mean", {x});
  if (!rec) return out;
  Shape in = x.shape();
  return rec.finish(out, [in, flags, scale](const Tensor& g, Node&) -> Grads {
    return {spread(g, in, flags, scale)};
  });
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  auto flags = reduce_flags(x, dims, "var");
  check<DTypeError>(is_floating(x.dtype()), "[var] expects a floating dtype, got ", dtype_name(x.dtype()));
  int64_t n = reduced_count(x.shape(), flags);
  double denom = double(std::max<int64_t>(0, n - correction));  // as torch: 0 gives inf / nan
  Tensor out;
  {
    NoGradGuard no_grad;  // two passes: mean, then the mean square deviation (no cancellation)
    Tensor xc = is_half(x.dtype()) ? to_dtype(x, DType::f32) : x;
    Tensor d = sub(xc, scaled_sum("var", xc, flags, true, 1.0 / double(n)));
    out = scaled_sum("var", mul(d, d), flags, keepdim, 1.0 / denom);
    if (is_half(x.dtype())) out = to_dtype(out, x.dtype());
  }
  Recorder rec("var", {x});
  if (!rec) return out;
  rec.save({x});
  Shape in = x.shape();
  return rec.finish(out, [in, flags, n, denom](const Tensor& g, Node& node) -> Grads {
    const Tensor& x = node.saved[0];  // dvar/dx = 2 (x − mean) / (n − correction)
    Tensor d = sub(x, scaled_sum("var", x, flags, true, 1.0 / double(n)));
    return {mul(spread(g, in, flags, 2.0 / denom), d)};
  });
}

MaxResult max(const Tensor& x, int64_t dim, bool keepdim) {
  check<ShapeError>(x.dim() > 0, "[max] needs a dim to reduce; got a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "max");
  auto flags = reduce_flags(x, {dim}, "max");
  cpu::MaxOut r = max_kernel("max", x, flags);
  Shape keep = reduced_shape(x.shape(), flags, true), shape = reduced_shape(x.shape(), flags, keepdim);
  MaxResult res{r.values.view(shape), r.indices.view(shape)};
  Recorder rec("max", {x});
  if (!rec) return res;
  rec.save({res.indices});
  Shape in = x.shape();
  res.values = rec.finish(res.values, [in, keep, dim](const Tensor& g, Node& n) -> Grads {
    return {scatter_along(reshape(g, keep), reshape(n.saved[0], keep), in, dim)};
  });
  return res;
}

Tensor max(const Tensor& x) {
  auto flags = reduce_flags(x, {}, "max");
  check<ShapeError>(x.numel() > 0, "[max] of an empty tensor ", shape_str(x.shape()));
  cpu::MaxOut r = max_kernel("max", x, flags);  // index: row-major over all dims
  Recorder rec("max", {x});
  if (!rec) return r.values;
  rec.save({r.indices});
  Shape in = x.shape();
  return rec.finish(r.values, [in](const Tensor& g, Node& n) -> Grads {
    Shape flat{shape_numel(in)};
    return {reshape(scatter_along(reshape(g, {1}), reshape(n.saved[0], {1}), flat, 0), in)};
  });
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  check<ShapeError>(x.dim() > 0, "[argmax] needs a dim to reduce; got a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "argmax");
  auto flags = reduce_flags(x, {dim}, "argmax");
  return max_kernel("argmax", x, flags).indices.view(reduced_shape(x.shape(), flags, keepdim));
}

}  // namespace engine
