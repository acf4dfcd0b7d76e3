// CPU reduction kernels: sum and max (with the index of the first maximum) over any set of
// dims of a strided tensor. Work is cut into pieces whose bounds depend only on the shape —
// fixed runs of a row, fixed blocks of rows and columns — and partial results are combined in
// piece order, so results are bit-identical for any number of threads.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace engine::cpu {

// Sum of x (f32, f64 or i64) over the dims flagged in `reduce` (one flag per dim). The result
// has the kept dims in order (no keepdim) and x's dtype. Counts `name` once.
Tensor sum_dims(const char* name, const Tensor& x, const std::vector<bool>& reduce);

// Max of x (f32, f64, i32 or i64) over the flagged dims, and the index of its first occurrence
// (row-major over the flagged dims; a NaN wins, as in torch). Values have x's dtype, indices
// i64; both have the kept dims in order. Every flagged dim must be non-empty.
struct MaxOut {
  Tensor values, indices;
};
MaxOut max_dims(const char* name, const Tensor& x, const std::vector<bool>& reduce);

}  // namespace engine::cpu
