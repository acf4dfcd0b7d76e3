// Reductions over any set of dims (negative allowed; empty = all dims), with keepdim.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace engine {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Population (correction 0) or sample (correction 1) variance, as torch.var(correction=...).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1,
           bool keepdim = false);

struct MaxResult {
  Tensor values;   // differentiable; the gradient goes to the (first) arg-max
  Tensor indices;  // i64
};
MaxResult max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace engine
