// Gradient masks (see grad_mask.h). On the CPU the compact/dense moves are plain copies; for a
// parameter on a GPU they run as index_select / scatter_add over the [rows, width] view, with
// the host index list uploaded by those ops (a few KB per step for typical masks).
#include "engine/autograd/grad_mask.h"

#include <algorithm>

#include "engine/autograd/grad_mode.h"
#include "engine/core/strided.h"
#include "engine/ops/convert.h"
#include "engine/ops/indexing.h"
#include "engine/ops/shape.h"

namespace engine {

void set_element_mask(const Tensor& param, const Tensor& mask) {
  check<ShapeError>(mask.shape() == param.shape(), "[set_element_mask] mask ", shape_str(mask.shape()),
                    " vs parameter ", shape_str(param.shape()));
  std::vector<bool> m = mask.to_vector<bool>();
  std::vector<int64_t> idx;
  for (size_t i = 0; i < m.size(); ++i)
    if (m[i]) idx.push_back(int64_t(i));
  auto gm = std::make_shared<GradMask>();
  gm->kind = GradMask::Kind::elements;
  gm->indices = from_vector(idx, {int64_t(idx.size())});
  param.impl()->grad_mask = gm;
  param.impl()->grad.reset();
}

void set_row_mask(const Tensor& param, const std::vector<int64_t>& rows) {
  check<ShapeError>(param.dim() >= 1, "[set_row_mask] needs a parameter with at least one dim");
  std::vector<int64_t> r = rows;
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  for (int64_t i : r)
    check<IndexError>(i >= 0 && i < param.size(0), "[set_row_mask] row ", i, " out of range for ",
                      shape_str(param.shape()));
  auto gm = std::make_shared<GradMask>();
  gm->kind = GradMask::Kind::rows;
  gm->indices = from_vector(r, {int64_t(r.size())});
  param.impl()->grad_mask = gm;
  param.impl()->grad.reset();
}

void clear_grad_mask(const Tensor& param) { param.impl()->grad_mask.reset(); }
const GradMask* grad_mask(const Tensor& param) { return param.impl()->grad_mask.get(); }

Shape compact_shape(const Tensor& param) {
  const GradMask* m = grad_mask(param);
  if (!m) return param.shape();
  if (m->kind == GradMask::Kind::elements) return {m->count()};
  Shape s = param.shape();
  s[0] = m->count();
  return s;
}

namespace {
int64_t row_size(const Shape& shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

// The masked tensor as [entries, width]: one row per mask index (an element or a dim-0 row).
Tensor as_entry_rows(const GradMask& mask, const Tensor& t) {
  const int64_t width = mask.kind == GradMask::Kind::rows ? row_size(t.shape()) : 1;
  return reshape(t.contiguous(), {width ? t.numel() / width : 0, width});
}

// [k, width] index of the mask's entries, for scatter_add (which wants index shaped as src).
Tensor entry_index(const GradMask& mask, int64_t width) {
  return expand(reshape(mask.indices, {mask.count(), 1}), {mask.count(), width}).contiguous();
}

bool on_gpu(const Tensor& t) { return !t.device().is_cpu(); }
}  // namespace

Tensor compact_grad(const GradMask& mask, const Tensor& dense) {
  if (on_gpu(dense)) {
    NoGradGuard no_grad;
    Shape out_shape = mask.kind == GradMask::Kind::elements ? Shape{mask.count()} : dense.shape();
    if (mask.kind == GradMask::Kind::rows) out_shape[0] = mask.count();
    return reshape(index_select(as_entry_rows(mask, dense), 0, mask.indices), out_shape);
  }
  Tensor d = dense.contiguous();
  const int64_t* idx = mask.indices.data<int64_t>();
  Shape out_shape = mask.kind == GradMask::Kind::elements ? Shape{mask.count()} : dense.shape();
  if (mask.kind == GradMask::Kind::rows) out_shape[0] = mask.count();
  Tensor out = empty(out_shape, d.dtype());
  int64_t width = mask.kind == GradMask::Kind::rows ? row_size(d.shape()) : 1;
  dispatch(d.dtype(), "compact_grad", [&]<typename T>() {
    const T* src = d.data<T>();
    T* dst = out.data<T>();
    for (int64_t k = 0; k < mask.count(); ++k)
      std::copy_n(src + idx[k] * width, width, dst + k * width);
  });
  return out;
}

Tensor expand_compact(const GradMask& mask, const Tensor& compact, const Shape& shape) {
  if (on_gpu(compact)) {
    NoGradGuard no_grad;
    Tensor rows = as_entry_rows(mask, zeros(shape, compact.dtype(), compact.device()));
    Tensor src = reshape(compact.contiguous(), {mask.count(), rows.size(1)});
    return reshape(scatter_add(rows, 0, entry_index(mask, rows.size(1)), src), shape);
  }
  Tensor out = zeros(shape, compact.dtype());
  Tensor c = compact.contiguous();
  const int64_t* idx = mask.indices.data<int64_t>();
  int64_t width = mask.kind == GradMask::Kind::rows ? row_size(shape) : 1;
  dispatch(c.dtype(), "expand_compact", [&]<typename T>() {
    for (int64_t k = 0; k < mask.count(); ++k)
      std::copy_n(c.data<T>() + k * width, width, out.data<T>() + idx[k] * width);
  });
  return out;
}

void add_compact_(const Tensor& param, const GradMask& mask, const Tensor& compact) {
  check<ValueError>(param.is_contiguous(), "[add_compact_] needs a contiguous parameter");
  if (on_gpu(param)) {  // p + scatter(c): each entry is added once in f32 and rounded once, as below
    NoGradGuard no_grad;
    Tensor rows = as_entry_rows(mask, param);
    Tensor src = reshape(to_device(compact, param.device()).contiguous(), {mask.count(), rows.size(1)});
    copy_(rows, scatter_add(rows, 0, entry_index(mask, rows.size(1)), to_dtype(src, param.dtype())));
    return;
  }
  Tensor c = compact.to(param.dtype()).contiguous();
  const int64_t* idx = mask.indices.data<int64_t>();
  int64_t width = mask.kind == GradMask::Kind::rows ? row_size(param.shape()) : 1;
  dispatch(param.dtype(), "add_compact_", [&]<typename T>() {
    T* p = param.data<T>();
    const T* v = c.data<T>();
    for (int64_t k = 0; k < mask.count(); ++k)
      for (int64_t j = 0; j < width; ++j)
        p[idx[k] * width + j] = T(float_or_same(p[idx[k] * width + j]) + float_or_same(v[k * width + j]));
  });
}

}  // namespace engine
