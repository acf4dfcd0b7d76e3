// Indexing ops and dropout with their vjps. Forward passes are gathers; every backward is a
// deterministic scatter-add (engine/backend/cpu/indexing.h). The embedding's backward writes
// a row-masked weight's gradient directly in its compact [k, D] layout, so a few trainable
// rows of a huge vocabulary never cost a dense [V, D] gradient. Tensors on a GPU run the
// kernels of backend/cuda/cuda_indexing.h: an index given on the host is range-checked here and
// copied to the device; one already on the device is checked there (one 8-byte read back).
#include "engine/ops/indexing.h"

#include <algorithm>

#include "engine/autograd/grad_mask.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/indexing.h"
#include "engine/backend/cuda/cuda_indexing.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"

namespace engine {
using autograd::Node;
using autograd::Recorder;
using Grads = std::vector<Tensor>;

namespace {

// A tensor off the CPU needs a present GPU (else NoKernelError naming op and device).
void check_device(const Tensor& t, const char* op) {
  if (!t.device().is_cpu()) cuda::require(op, t.device());
}

// Scatter-adds need arithmetic: f32/f64 (half types are upcast first) and the integer types.
template <typename Fn>
void dispatch_arith(DType dt, const char* op, Fn&& fn) {
  switch (dt) {
    case DType::f32: return fn.template operator()<float>();
    case DType::f64: return fn.template operator()<double>();
    case DType::i32: return fn.template operator()<int32_t>();
    case DType::i64: return fn.template operator()<int64_t>();
    default: fail<DTypeError>("[", op, "] cannot add ", dtype_name(dt), " values");
  }
}

// `index` as a contiguous i64 tensor on device `dev` whose every value lies in [0, size); an
// error names the value and the limit ("[embedding] id 7 out of range for vocabulary size 5").
Tensor checked_index(const Tensor& index, int64_t size, Device dev, const char* op, const char* what,
                     const char* limit = "dim size") {
  check<DTypeError>(index.dtype() == DType::i64 || index.dtype() == DType::i32, "[", op, "] ", what,
                    " must be i32 or i64, got ", dtype_name(index.dtype()));
  if (!index.device().is_cpu()) {
    check<NoKernelError>(index.device() == dev, "[", op, "] ", what, "s on ", index.device().str(),
                         ", input on ", dev.str());
    return cuda::checked_index(index, size, op, what, limit);
  }
  Tensor idx = to_dtype(index.detach(), DType::i64).contiguous();
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i)
    check<IndexError>(p[i] >= 0 && p[i] < size, "[", op, "] ", what, " ", p[i], " out of range for ",
                      limit, " ", size);
  return dev.is_cpu() ? idx : idx.to(dev);
}

using cpu::Split3;
using cpu::split_at;

// out[o, k, :] = x[o, idx[k], :] around dim; out has x's shape with dim resized to idx.numel().
Tensor select_rows(const char* op, const Tensor& x, int64_t dim, const Tensor& idx, const Shape& out_shape) {
  NoGradGuard no_grad;
  count_kernel(op, 0);
  if (!x.device().is_cpu()) return cuda::index_rows(op, x, dim, idx, out_shape);
  Tensor xc = x.contiguous();
  Split3 s = split_at(x.shape(), dim);
  Tensor out = empty(out_shape, x.dtype());
  auto* src = static_cast<const std::byte*>(xc.raw_data());
  auto* dst = static_cast<std::byte*>(out.raw_data());
  cpu::index_rows(src, s.rows, dst, idx.data<int64_t>(), idx.numel(), s.outer,
                  s.inner * int64_t(dtype_size(x.dtype())));
  return out;
}

// zeros(dst_shape) plus g's rows added at idx along dim (negative idx skipped).
Tensor add_rows(const char* op, const Tensor& g, int64_t dim, const Tensor& idx, const Shape& dst_shape) {
  NoGradGuard no_grad;
  if (!g.device().is_cpu()) {
    count_kernel(op, g.numel());
    return cuda::index_add_rows(op, g, dim, idx, dst_shape);
  }
  DType ct = compute_dtype(g.dtype());
  Tensor gc = to_dtype(g, ct).contiguous();
  Split3 s = split_at(dst_shape, dim);
  Tensor out = zeros(dst_shape, ct);
  count_kernel(op, g.numel());
  dispatch_arith(ct, op, [&]<typename T>() {
    cpu::index_add_rows<T>(out.data<T>(), s.rows, gc.data<T>(), idx.data<int64_t>(), idx.numel(), s.outer,
                           s.inner);
  });
  return ct == g.dtype() ? out : to_dtype(out, g.dtype());
}

// out[..., j, ...] = x[..., idx[..., j, ...], ...] along dim; out has idx's shape.
Tensor gather_kernel(const Tensor& x, int64_t dim, const Tensor& idx) {
  NoGradGuard no_grad;
  count_kernel("gather", 0);
  if (!x.device().is_cpu()) return cuda::gather(x, dim, idx);
  Tensor out = empty(idx.shape(), x.dtype());
  if (out.numel() == 0) return out;
  auto lp = cpu::make_line_plan(idx.shape(), dim, {out.strides(), x.strides(), idx.strides()});
  dispatch(x.dtype(), "gather", [&]<typename T>() {
    cpu::gather_lines<T>(lp, out.data<T>(), x.data<T>(), idx.data<int64_t>());
  });
  return out;
}

// out (contiguous, arithmetic dtype) [..., idx[..., j, ...], ...] += src[..., j, ...] in place.
void scatter_add_into(const Tensor& out, int64_t dim, const Tensor& idx, const Tensor& src) {
  count_kernel("scatter_add", idx.numel());
  if (!out.device().is_cpu()) return cuda::scatter_add_into(out, dim, idx, src);
  if (idx.numel() == 0) return;
  auto lp = cpu::make_line_plan(idx.shape(), dim, {src.strides(), out.strides(), idx.strides()});
  dispatch_arith(out.dtype(), "scatter_add", [&]<typename T>() {
    cpu::scatter_add_lines<T>(lp, src.data<T>(), out.data<T>(), idx.data<int64_t>());
  });
}

// zeros(shape) with `corner` written at its origin (scatter_add's src may exceed the index).
Tensor pad_to(const Tensor& corner, const Shape& shape) {
  if (corner.shape() == shape) return corner;
  Tensor out = zeros(shape, corner.dtype(), corner.device());
  Tensor view = out;
  for (int64_t d = 0; d < corner.dim(); ++d) view = narrow(view, d, 0, corner.size(d));
  copy_(view, corner);
  return out;
}

// gather / scatter_add shape rules (torch): same rank; index no larger than x off `dim`.
void check_index_shape(const char* op, const Tensor& x, int64_t dim, const Tensor& index) {
  check<ShapeError>(index.dim() == x.dim(), "[", op, "] index ", shape_str(index.shape()),
                    " must have the rank of the input ", shape_str(x.shape()));
  for (int64_t d = 0; d < x.dim(); ++d)
    check<ShapeError>(d == dim || index.size(d) <= x.size(d), "[", op, "] index ", shape_str(index.shape()),
                      " is larger than the input ", shape_str(x.shape()), " at dim ", d);
}

// The row mask of the leaf behind input i of a node, if it has one.
const GradMask* leaf_row_mask(const Node& n, size_t i) {
  const auto& leaf = n.next[i].leaf;
  if (!leaf || !leaf->grad_mask || leaf->grad_mask->kind != GradMask::Kind::rows) return nullptr;
  return leaf->grad_mask.get();
}

// Embedding destinations: padding rows dropped (-1); with a row mask, ids mapped to their
// position among the trainable rows (-1 when frozen).
// Computed on the host (GPU ids are copied over): the GPU groups destinations there too.
Tensor embedding_dest(const Tensor& ids, int64_t padding_idx, const GradMask* mask) {
  Tensor host = ids.device().is_cpu() ? ids : ids.to(Device::cpu());
  Tensor idx = to_dtype(host, DType::i64).contiguous().reshape({-1}).clone();
  int64_t* p = idx.data<int64_t>();
  const int64_t* rows = mask ? mask->indices.data<int64_t>() : nullptr;
  for (int64_t i = 0; i < idx.numel(); ++i) {
    if (p[i] == padding_idx) p[i] = -1;
    else if (mask) {
      const int64_t* hit = std::lower_bound(rows, rows + mask->count(), p[i]);
      p[i] = hit != rows + mask->count() && *hit == p[i] ? hit - rows : -1;
    }
  }
  return idx;
}

}  // namespace

Tensor embedding(const Tensor& ids, const Tensor& weight, int64_t padding_idx) {
  check_device(weight, "embedding");
  check<ShapeError>(weight.dim() == 2, "[embedding] weight must be [V, D], got ", shape_str(weight.shape()));
  const int64_t V = weight.size(0), D = weight.size(1);
  check<ValueError>(padding_idx < V, "[embedding] padding_idx ", padding_idx,
                    " out of range for vocabulary size ", V);
  if (padding_idx < 0) padding_idx = -1;
  Tensor idx = checked_index(ids, V, weight.device(), "embedding", "id", "vocabulary size");
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = select_rows("embedding", weight, 0, idx, out_shape);  // [..., D]
  Recorder rec("embedding", {weight});
  if (!rec) return out;
  rec.save({ids});
  return rec.finish(out, [V, D, padding_idx](const Tensor& g, Node& n) -> Grads {
    const GradMask* mask = leaf_row_mask(n, 0);
    Tensor dest = embedding_dest(n.saved[0], padding_idx, mask);  // [K]
    Tensor gw = add_rows("embedding", g.reshape({-1, D}), 0, dest, {mask ? mask->count() : V, D});
    if (mask) n.mark_compact(0);  // [k, D]: the trainable rows only
    return {gw};
  });
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_device(x, "index_select");
  check<ShapeError>(x.dim() >= 1, "[index_select] needs an input with at least one dim");
  check<ShapeError>(index.dim() <= 1, "[index_select] index must be 1-d, got ", shape_str(index.shape()));
  dim = wrap_dim(dim, x.dim(), "index_select");
  Tensor idx = checked_index(index, x.size(dim), x.device(), "index_select", "index").reshape({-1});
  Shape out_shape = x.shape();
  out_shape[size_t(dim)] = idx.numel();
  Tensor out = select_rows("index_select", x, dim, idx, out_shape);
  Recorder rec("index_select", {x});
  if (!rec) return out;
  rec.save({idx});
  Shape in_shape = x.shape();
  return rec.finish(out, [dim, in_shape](const Tensor& g, Node& n) -> Grads {
    return {add_rows("index_select", g, dim, n.saved[0], in_shape)};
  });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_device(x, "gather");
  check<ShapeError>(x.dim() >= 1, "[gather] needs an input with at least one dim");
  dim = wrap_dim(dim, x.dim(), "gather");
  check_index_shape("gather", x, dim, index);
  Tensor idx = checked_index(index, x.size(dim), x.device(), "gather", "index");
  Tensor out = gather_kernel(x, dim, idx);
  Recorder rec("gather", {x});
  if (!rec) return out;
  rec.save({idx});
  Shape in_shape = x.shape();
  return rec.finish(out, [dim, in_shape](const Tensor& g, Node& n) -> Grads {
    DType ct = compute_dtype(g.dtype());
    Tensor gx = zeros(in_shape, ct, g.device());
    scatter_add_into(gx, dim, n.saved[0], to_dtype(g, ct));
    return {to_dtype(gx, g.dtype())};
  });
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_device(x, "scatter_add");
  check<NoKernelError>(src.device() == x.device(), "[scatter_add] src on ", src.device().str(), ", input on ",
                       x.device().str());
  check<ShapeError>(x.dim() >= 1, "[scatter_add] needs an input with at least one dim");
  check<DTypeError>(x.dtype() == src.dtype(), "[scatter_add] src dtype ", dtype_name(src.dtype()),
                    " differs from the input's ", dtype_name(x.dtype()));
  dim = wrap_dim(dim, x.dim(), "scatter_add");
  check_index_shape("scatter_add", x, dim, index);
  check_index_shape("scatter_add", src, -1, index);  // -1: no dim exempt, index fits in src
  Tensor idx = checked_index(index, x.size(dim), x.device(), "scatter_add", "index");
  Tensor out;
  {
    NoGradGuard no_grad;
    DType ct = compute_dtype(x.dtype());
    out = empty(x.shape(), ct, x.device());
    copy_(out, x);
    scatter_add_into(out, dim, idx, to_dtype(src, ct));
    out = to_dtype(out, x.dtype());
  }
  Recorder rec("scatter_add", {x, src});
  if (!rec) return out;
  rec.save({rec.needs(1) ? idx : Tensor{}});
  Shape src_shape = src.shape();
  return rec.finish(out, [dim, src_shape](const Tensor& g, Node& n) -> Grads {
    Tensor gsrc;
    if (n.needs(1)) gsrc = pad_to(gather_kernel(g, dim, n.saved[0]), src_shape);  // src beyond index: 0
    return {n.needs(0) ? g : Tensor{}, gsrc};
  });
}

namespace {
// x with the Philox keep-mask of (seed, offset) applied and kept values scaled by 1/(1-p).
Tensor apply_dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  NoGradGuard no_grad;
  count_kernel("dropout", x.numel());
  if (!x.device().is_cpu()) return cuda::dropout(x, p, seed, offset);
  DType ct = compute_dtype(x.dtype());
  Tensor xc = to_dtype(x, ct).contiguous();
  Tensor out = empty(x.shape(), ct);
  dispatch_compute(ct, "dropout", [&]<typename T>() {
    cpu::dropout_apply<T>(xc.data<T>(), out.data<T>(), x.numel(), p, seed, offset);
  });
  return to_dtype(out, x.dtype());
}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check<ValueError>(p >= 0.0 && p <= 1.0, "[dropout] p must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  check_device(x, "dropout");
  const uint64_t seed = gen.seed(), offset = gen.advance(uint64_t(x.numel()));
  Tensor out = apply_dropout(x, p, seed, offset);
  Recorder rec("dropout", {x});
  if (!rec) return out;
  // The vjp regenerates the mask from (seed, offset): nothing is saved for it.
  return rec.finish(out, [p, seed, offset](const Tensor& g, Node&) -> Grads {
    return {apply_dropout(g, p, seed, offset)};
  });
}

}  // namespace engine
