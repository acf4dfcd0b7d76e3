// Strided index spaces of the CUDA kernels, in plain C++17 for host and device: building a
// kernels::Layout from a shape and per-operand strides (host; size-1 dims dropped and dims that
// are contiguous for every operand merged, as the CPU's make_plan), and mapping a row-major
// linear index to per-operand element offsets (host and device). CudaMath.LayoutOffsets checks
// both on the CPU against plain strided indexing.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "engine/backend/cuda/elementwise_math.h"
#include "engine/backend/cuda/kernels.h"

namespace engine::cuda::kernels {

// Fills l from `shape` and one stride list per operand (at most kMaxOps); false when more than
// kMaxDims dims remain after merging. Row-major order, hence linear indices over `shape`, is
// unchanged by the merging.
inline bool build_layout(Layout& l, const std::vector<int64_t>& shape,
                         std::initializer_list<std::vector<int64_t>> strides) {
  const std::vector<std::vector<int64_t>> st(strides);
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> merged(st.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !dims.empty();
    for (size_t k = 0; k < st.size() && merge; ++k) merge = merged[k].back() == st[k][d] * shape[d];
    if (merge) dims.back() *= shape[d];
    else dims.push_back(shape[d]);
    for (size_t k = 0; k < st.size(); ++k) {
      if (merge) merged[k].back() = st[k][d];
      else merged[k].push_back(st[k][d]);
    }
  }
  if (dims.size() > size_t(kMaxDims) || st.size() > size_t(kMaxOps)) return false;
  l = Layout{};
  l.ndim = int(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    l.shape[d] = dims[d];
    for (size_t k = 0; k < st.size(); ++k) l.stride[k][d] = merged[k][d];
  }
  return true;
}

// Element offsets of row-major index i over l.shape in the first `nops` operands. A merged
// dense tensor has one dim and needs no division.
template <int nops>
ENGINE_HD void offsets(const Layout& l, int64_t i, int64_t (&off)[nops]) {
  if (l.ndim <= 1) {
    for (int k = 0; k < nops; ++k) off[k] = l.ndim ? i * l.stride[k][0] : 0;
    return;
  }
  for (int k = 0; k < nops; ++k) off[k] = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    const int64_t n = l.shape[d], idx = i % n;
    i /= n;
    for (int k = 0; k < nops; ++k) off[k] += idx * l.stride[k][d];
  }
}

}  // namespace engine::cuda::kernels
