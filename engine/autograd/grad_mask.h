// Gradient masks: train only chosen entries of a parameter. A masked leaf's gradient is
// kept compact — [nnz] for an element mask, [k, ...] for a row set — so gradient and
// optimizer state scale with the trainable entries, not with the parameter. Entries
// outside the mask never receive a gradient and the optimizer never touches them.
#pragma once
#include <memory>
#include <vector>

#include "engine/core/tensor.h"

namespace engine {

struct GradMask {
  enum class Kind { elements, rows };
  Kind kind = Kind::elements;
  Tensor indices;  // i64, sorted unique: flat element indices, or row indices along dim 0
  int64_t count() const { return indices.numel(); }
};

// Train only the entries where `mask` (bool, same shape as the parameter) is true.
void set_element_mask(const Tensor& param, const Tensor& mask);
// Train only rows `rows` (dim 0) of the parameter, e.g. a few new tokens of an embedding.
void set_row_mask(const Tensor& param, const std::vector<int64_t>& rows);
void clear_grad_mask(const Tensor& param);
const GradMask* grad_mask(const Tensor& param);

// Shape of a masked parameter's compact gradient.
Shape compact_shape(const Tensor& param);
// Dense gradient -> compact (gather the trainable entries).
Tensor compact_grad(const GradMask& mask, const Tensor& dense);
// Compact values -> a dense tensor of `shape` with zeros elsewhere (for inspection).
Tensor expand_compact(const GradMask& mask, const Tensor& compact, const Shape& shape);
// param[trainable entries] += compact (in place, no autograd): the optimizer's write path.
void add_compact_(const Tensor& param, const GradMask& mask, const Tensor& compact);

}  // namespace engine
