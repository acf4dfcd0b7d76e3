// Shape ops. Views (reshape when possible, permute, transpose, narrow, select, expand,
// squeeze, unsqueeze) share storage and copy nothing; contiguous() copies only when the
// layout requires it. Each has its vjp beside it in shape.cpp. concat / split / stack too.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace engine {

Tensor reshape(const Tensor& x, Shape shape);  // one -1 allowed; copies only if no view exists
Tensor view(const Tensor& x, Shape shape);     // errors instead of copying
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a dim; new leading dims allowed
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);

Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);

// NumPy broadcasting of two shapes (error names the op).
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Sums a gradient of broadcast shape back to `shape` (the vjp of broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace engine
