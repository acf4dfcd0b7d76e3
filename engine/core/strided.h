// Strided iteration over N operands of one (broadcast) shape: the loop every elementwise
// kernel, copy and conversion shares. Dimensions that are contiguous for all operands are
// merged first, so a contiguous tensor becomes one long row whatever its rank; rows are
// then split across oneTBB workers in fixed chunks (results never depend on thread count:
// each output element is written by exactly one task).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace engine {

template <size_t N>
struct StridedPlan {
  std::vector<int64_t> shape;                  // merged dims, outermost first
  std::array<std::vector<int64_t>, N> strides;  // per operand, in elements
};

// Merges dims that are contiguous for every operand and drops size-1 dims.
template <size_t N>
StridedPlan<N> make_plan(const std::vector<int64_t>& shape,
                         const std::array<std::vector<int64_t>, N>& strides) {
  StridedPlan<N> p;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !p.shape.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = p.strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      p.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) p.strides[k].back() = strides[k][d];
    } else {
      p.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) p.strides[k].push_back(strides[k][d]);
    }
  }
  if (p.shape.empty()) {  // a scalar: one row of one element
    p.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// Calls row(offsets, n, inner_strides) for every run of the innermost dim, where offsets are
// each operand's element offset of the run's first element. Parallel when the work is big.
template <size_t N, typename RowFn>
void for_each_row(const StridedPlan<N>& p, RowFn&& row, int64_t grain = 1 << 15) {
  const int64_t ndim = int64_t(p.shape.size());
  const int64_t inner = p.shape.back();
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = p.strides[k].back();
  int64_t outer = 1;
  for (int64_t d = 0; d + 1 < ndim; ++d) outer *= p.shape[d];

  if (outer == 1) {  // one long row: split it into chunks
    auto chunk = [&](int64_t b, int64_t e) {
      std::array<int64_t, N> off;
      for (size_t k = 0; k < N; ++k) off[k] = b * inner_stride[k];
      row(off, e - b, inner_stride);
    };
    if (inner < 2 * grain) return chunk(0, inner);
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, inner, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { chunk(r.begin(), r.end()); });
    return;
  }
  auto rows = [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(size_t(ndim - 1));
    int64_t rem = b;
    for (int64_t d = ndim - 2; d >= 0; --d) idx[size_t(d)] = rem % p.shape[size_t(d)], rem /= p.shape[size_t(d)];
    for (int64_t r = b; r < e; ++r) {
      std::array<int64_t, N> off{};
      for (int64_t d = 0; d + 1 < ndim; ++d)
        for (size_t k = 0; k < N; ++k) off[k] += idx[size_t(d)] * p.strides[k][size_t(d)];
      row(off, inner, inner_stride);
      for (int64_t d = ndim - 2; d >= 0; --d) {  // odometer increment
        if (++idx[size_t(d)] < p.shape[size_t(d)]) break;
        idx[size_t(d)] = 0;
      }
    }
  };
  int64_t row_grain = std::max<int64_t>(1, grain / std::max<int64_t>(inner, 1));
  if (outer * inner < 2 * grain) return rows(0, outer);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, outer, row_grain),
                    [&](const tbb::blocked_range<int64_t>& r) { rows(r.begin(), r.end()); });
}

// Strides of `shape`-shaped `src_strides` broadcast to `out_shape` (0 on broadcast dims).
inline std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& src_shape,
                                              const std::vector<int64_t>& src_strides,
                                              const std::vector<int64_t>& out_shape) {
  std::vector<int64_t> s(out_shape.size(), 0);
  size_t lead = out_shape.size() - src_shape.size();
  for (size_t d = 0; d < src_shape.size(); ++d)
    s[lead + d] = src_shape[d] == 1 ? 0 : src_strides[d];
  return s;
}

}  // namespace engine
