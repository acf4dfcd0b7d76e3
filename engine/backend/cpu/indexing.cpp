// CPU indexing kernels (see indexing.h): row copies, grouped row scatter-adds, the line plan
// for gather / scatter_add, and the Philox dropout mask.
#include "engine/backend/cpu/indexing.h"

#include <cstring>
#include <numeric>

#include "engine/backend/cpu/simd_parallel.h"
#include "engine/core/philox.h"

namespace engine::cpu {

void index_rows(const std::byte* src, int64_t src_rows, std::byte* dst, const int64_t* idx,
                int64_t k, int64_t outer, int64_t row_bytes) {
  // Rows are counted in elements of one byte for the grain: ~32 KiB of copying per task.
  for_rows(outer * k, row_bytes, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t o = r / k, j = r % k;
      std::memcpy(dst + r * row_bytes, src + (o * src_rows + idx[j]) * row_bytes, size_t(row_bytes));
    }
  });
}

RowGroups group_by_row(const int64_t* idx, int64_t k) {
  RowGroups g;
  g.order.reserve(size_t(k));
  for (int64_t j = 0; j < k; ++j)
    if (idx[j] >= 0) g.order.push_back(j);
  // A stable sort by destination keeps each group's positions in increasing order, which
  // fixes the summation order; its cost depends on k only, never on the number of rows.
  std::stable_sort(g.order.begin(), g.order.end(), [&](int64_t a, int64_t b) { return idx[a] < idx[b]; });
  for (size_t i = 0; i < g.order.size(); ++i) {
    if (i == 0 || idx[g.order[i]] != idx[g.order[i - 1]]) {
      g.starts.push_back(int64_t(i));
      g.dest.push_back(idx[g.order[i]]);
    }
  }
  g.starts.push_back(int64_t(g.order.size()));
  return g;
}

template <class T>
void index_add_rows(T* dst, int64_t dst_rows, const T* src, const int64_t* idx, int64_t k,
                    int64_t outer, int64_t inner) {
  RowGroups g = group_by_row(idx, k);
  const int64_t groups = g.count();
  // One task per (o, destination row): it alone writes that row, summing in increasing k.
  for_rows(outer * groups, inner, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t o = t / groups, r = t % groups;
      T* d = dst + (o * dst_rows + g.dest[size_t(r)]) * inner;
      for (int64_t p = g.starts[size_t(r)]; p < g.starts[size_t(r) + 1]; ++p) {
        const T* s = src + (o * k + g.order[size_t(p)]) * inner;
        for (int64_t e = 0; e < inner; ++e) d[e] += s[e];
      }
    }
  });
}

LinePlan make_line_plan(const std::vector<int64_t>& index_shape, int64_t dim,
                        const std::array<std::vector<int64_t>, 3>& strides) {
  LinePlan lp;
  lp.len = index_shape.empty() ? 1 : index_shape[size_t(dim)];
  std::vector<int64_t> shape;
  std::array<std::vector<int64_t>, 3> line_strides;
  for (size_t d = 0; d < index_shape.size(); ++d) {
    if (int64_t(d) == dim) {
      for (size_t k = 0; k < 3; ++k) lp.dim_stride[k] = strides[k][d];
      continue;
    }
    shape.push_back(index_shape[d]);
    for (size_t k = 0; k < 3; ++k) line_strides[k].push_back(strides[k][d]);
  }
  lp.plan = make_plan<3>(shape, line_strides);
  return lp;
}

template <class T>
void dropout_apply(const T* x, T* out, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const T scale = p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
  const float threshold = float(p);
  for_chunks(n, kElementChunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      out[i] = philox_uniform(seed, offset + uint64_t(i)) >= threshold ? x[i] * scale : T(0);
  });
}

#define ENGINE_INDEXING_INSTANTIATE(T)                                                          \
  template void index_add_rows<T>(T*, int64_t, const T*, const int64_t*, int64_t, int64_t, int64_t);
ENGINE_INDEXING_INSTANTIATE(float)
ENGINE_INDEXING_INSTANTIATE(double)
ENGINE_INDEXING_INSTANTIATE(int32_t)
ENGINE_INDEXING_INSTANTIATE(int64_t)
#undef ENGINE_INDEXING_INSTANTIATE
template void dropout_apply<float>(const float*, float*, int64_t, double, uint64_t, uint64_t);
template void dropout_apply<double>(const double*, double*, int64_t, double, uint64_t, uint64_t);

}  // namespace engine::cpu
