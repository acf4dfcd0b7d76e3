// Shape ops: views (reshape, permute, narrow, expand, ...) share storage and need no kernel on
// any device; clone/concat copy through the device-aware copy_; sum_to (every broadcast vjp)
// reduces on the tensor's own backend.
#include "engine/ops/shape.h"

#include <numeric>
#include <optional>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/reduce.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/strided.h"
#include "engine/ops/convert.h"

namespace engine {
using autograd::Node;
using autograd::Recorder;

namespace {

// A new impl over x's storage with the given geometry.
Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = x.dtype();
  return Tensor(impl);
}

Shape infer_shape(Shape shape, int64_t numel, const char* op, const Shape& from) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      check<ShapeError>(infer < 0, "[", op, "] only one -1 allowed in ", shape_str(shape));
      infer = int64_t(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    check<ShapeError>(known != 0 && numel % known == 0, "[", op, "] cannot reshape ", shape_str(from),
                      " to ", shape_str(shape));
    shape[size_t(infer)] = numel / known;
  }
  check<ShapeError>(shape_numel(shape) == numel, "[", op, "] cannot reshape ", shape_str(from), " (",
                    numel, " elements) to ", shape_str(shape));
  return shape;
}

// Strides for viewing x as `shape` without a copy, or empty if impossible (torch's rule:
// each group of merged/split dims must be contiguous within itself).
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
  if (x.is_contiguous()) return contiguous_strides(shape);
  const Shape &os = x.shape(), &ost = x.strides();
  if (os.empty()) return Shape(shape.size(), 1);
  Shape st(shape.size());
  int64_t view_d = int64_t(shape.size()) - 1;
  int64_t base_stride = ost.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(os.size()) - 1; d >= 0; --d) {
    tensor_numel *= os[size_t(d)];
    bool chunk_ends = d == 0 || (os[size_t(d - 1)] != 1 && ost[size_t(d - 1)] != tensor_numel * base_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || shape[size_t(view_d)] == 1)) {
      st[size_t(view_d)] = view_numel * base_stride;
      view_numel *= shape[size_t(view_d)];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) base_stride = ost[size_t(d - 1)], tensor_numel = 1, view_numel = 1;
  }
  if (view_d != -1) return std::nullopt;
  return st;
}

}  // namespace

Tensor view(const Tensor& x, Shape shape) {
  shape = infer_shape(std::move(shape), x.numel(), "view", x.shape());
  auto st = view_strides(x, shape);
  check<ShapeError>(st.has_value(), "[view] ", shape_str(x.shape()), " with strides ",
                    shape_str(x.strides()), " cannot be viewed as ", shape_str(shape),
                    " without a copy (use reshape)");
  Tensor out = make_view(x, shape, *st, x.offset());
  Recorder rec("view", {x});
  if (!rec) return out;
  Shape in_shape = x.shape();
  return rec.finish(out, [in_shape](const Tensor& g, Node&) -> std::vector<Tensor> {
    return {reshape(g, in_shape)};
  });
}

Tensor reshape(const Tensor& x, Shape shape) {
  shape = infer_shape(std::move(shape), x.numel(), "reshape", x.shape());
  if (view_strides(x, shape)) return view(x, shape);
  return view(contiguous(x), shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  check<ShapeError>(int64_t(dims.size()) == x.dim(), "[permute] ", dims.size(), " dims for a ",
                    x.dim(), "-d tensor");
  Shape shape(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "permute");
    check<ShapeError>(inverse[size_t(d)] < 0, "[permute] repeated dim ", d);
    inverse[size_t(d)] = int64_t(i);
    shape[i] = x.shape()[size_t(d)];
    strides[i] = x.strides()[size_t(d)];
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  Recorder rec("permute", {x});
  if (!rec) return out;
  return rec.finish(out, [inverse](const Tensor& g, Node&) -> std::vector<Tensor> {
    return {permute(g, inverse)};
  });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> dims(size_t(x.dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[size_t(wrap_dim(d0, x.dim(), "transpose"))], dims[size_t(wrap_dim(d1, x.dim(), "transpose"))]);
  return permute(x, dims);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  dim = wrap_dim(dim, x.dim(), "narrow");
  int64_t n = x.shape()[size_t(dim)];
  if (start < 0) start += n;
  check<IndexError>(start >= 0 && length >= 0 && start + length <= n, "[narrow] range [", start, ", ",
                    start + length, ") out of bounds for dim ", dim, " of size ", n);
  Shape shape = x.shape();
  shape[size_t(dim)] = length;
  Tensor out = make_view(x, shape, x.strides(), x.offset() + start * x.strides()[size_t(dim)]);
  Recorder rec("narrow", {x});
  if (!rec) return out;
  Shape in_shape = x.shape();
  DType dt = x.dtype();
  return rec.finish(out, [=](const Tensor& g, Node&) -> std::vector<Tensor> {
    Tensor gx = zeros(in_shape, dt, g.device());
    copy_(narrow(gx, dim, start, length), g);
    return {gx};
  });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  dim = wrap_dim(dim, x.dim(), "select");
  int64_t n = x.shape()[size_t(dim)];
  if (index < 0) index += n;
  check<IndexError>(index >= 0 && index < n, "[select] index ", index, " out of range for dim ", dim,
                    " of size ", n);
  return squeeze(narrow(x, dim, index, 1), dim);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check<ShapeError>(int64_t(shape.size()) >= x.dim(), "[expand] cannot expand ", shape_str(x.shape()),
                    " to ", shape_str(shape));
  size_t lead = shape.size() - size_t(x.dim());
  Shape out_shape(shape.size()), strides(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      check<ShapeError>(shape[i] >= 0, "[expand] -1 not allowed for a new leading dim");
      out_shape[i] = shape[i];
      continue;
    }
    int64_t s = x.shape()[i - lead], want = shape[i] == -1 ? s : shape[i];
    check<ShapeError>(s == want || s == 1, "[expand] cannot expand ", shape_str(x.shape()), " to ",
                      shape_str(shape));
    out_shape[i] = want;
    strides[i] = s == want ? x.strides()[i - lead] : 0;
  }
  Tensor out = make_view(x, out_shape, strides, x.offset());
  Recorder rec("expand", {x});
  if (!rec) return out;
  Shape in_shape = x.shape();
  return rec.finish(out, [in_shape](const Tensor& g, Node&) -> std::vector<Tensor> {
    return {sum_to(g, in_shape)};
  });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand(x, shape); }

Tensor squeeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[size_t(dim)] != 1) return x;
  Shape shape = x.shape();
  shape.erase(shape.begin() + dim);
  return view(x, shape);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + dim, 1);
  return view(x, shape);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = wrap_dim(start_dim, x.dim(), "flatten");
  end_dim = wrap_dim(end_dim, x.dim(), "flatten");
  Shape shape(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t n = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) n *= x.shape()[size_t(d)];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor clone(const Tensor& x) {
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  autograd::Recorder rec("clone", {x});
  if (!rec) return out;
  return rec.finish(out, [](const Tensor& g, Node&) -> std::vector<Tensor> { return {g}; });
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    check<ShapeError>(da == db || da == 1 || db == 1, "[", op, "] shapes ", shape_str(a), " and ",
                      shape_str(b), " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Sums g over the dims where `shape` was broadcast (the leading dims, and those of size 1
// in `shape`), on the reduction kernel: SIMD, parallel, and deterministic for any threads
// (on a GPU, backend/cuda's deterministic sum, reading half types in place).
Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  check<ShapeError>(shape.size() <= g.shape().size(), "[sum_to] cannot sum ", shape_str(g.shape()),
                    " to ", shape_str(shape));
  const size_t lead = g.shape().size() - shape.size();
  std::vector<bool> flags(g.shape().size());
  for (size_t d = 0; d < flags.size(); ++d)
    flags[d] = d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1);
  DType dt = g.dtype();
  NoGradGuard no_grad;
  if (!g.device().is_cpu()) {
    cuda::require("sum_to", g.device());
    return to_dtype(reshape(cuda::sum_dims("sum_to", g, flags), shape), dt);
  }
  DType ct = dt == DType::bf16 || dt == DType::f16 ? DType::f32 : is_floating(dt) ? dt : DType::i64;
  return to_dtype(reshape(cpu::sum_dims("sum_to", to_dtype(g, ct), flags), shape), dt);
}

}  // namespace engine

namespace engine {

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  check<ValueError>(!xs.empty(), "[concat] needs at least one tensor");
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim(), "concat");
  Shape shape = first.shape();
  int64_t total = 0;
  DType dt = first.dtype();
  for (const Tensor& x : xs) {
    check<ShapeError>(x.dim() == first.dim(), "[concat] ranks differ: ", shape_str(first.shape()),
                      " and ", shape_str(x.shape()));
    for (int64_t d = 0; d < x.dim(); ++d)
      check<ShapeError>(d == dim || x.shape()[size_t(d)] == shape[size_t(d)], "[concat] shapes ",
                        shape_str(first.shape()), " and ", shape_str(x.shape()), " differ outside dim ", dim);
    total += x.shape()[size_t(dim)];
    dt = promote(dt, x.dtype());
  }
  shape[size_t(dim)] = total;
  Tensor out = empty(shape, dt, first.device());
  std::vector<int64_t> sizes;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    int64_t n = x.shape()[size_t(dim)];
    copy_(make_view(out, [&] { Shape s = shape; s[size_t(dim)] = n; return s; }(), out.strides(),
                    out.offset() + at * out.strides()[size_t(dim)]),
          x);
    sizes.push_back(n);
    at += n;
  }
  autograd::Recorder rec("concat", xs);
  if (!rec) return out;
  return rec.finish(out, [sizes, dim](const Tensor& g, Node& n) -> std::vector<Tensor> {
    std::vector<Tensor> grads(sizes.size());
    int64_t at = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (n.needs(i)) grads[i] = narrow(g, dim, at, sizes[i]);
      at += sizes[i];
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  check<ValueError>(!xs.empty(), "[stack] needs at least one tensor");
  dim = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (const Tensor& x : xs) parts.push_back(unsqueeze(x, dim));
  return concat(parts, dim);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  check<ShapeError>(total == x.shape()[size_t(dim)], "[split] sizes sum to ", total, " but dim ", dim,
                    " of ", shape_str(x.shape()), " has ", x.shape()[size_t(dim)]);
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, dim, at, s));
    at += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  int64_t n = x.size(dim), each = (n + chunks - 1) / chunks;
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < n; at += each) sizes.push_back(std::min(each, n - at));
  return split(x, sizes, dim);
}

}  // namespace engine
