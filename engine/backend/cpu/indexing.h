// CPU kernels of the indexing ops: row gathers and deterministic row scatter-adds (embedding,
// index_select), line-wise gather / scatter_add along one dim (torch.gather semantics), and
// the Philox dropout mask. Every scatter is deterministic: each destination element is owned
// by exactly one task and sums its sources in a fixed order, so results are bit-identical for
// any thread count (no atomics).
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/core/strided.h"

namespace engine::cpu {

// A shape seen as [outer, rows, inner] around dim: how gather/scatter/index_select walk lines.
struct Split3 {
  int64_t outer = 1, rows = 1, inner = 1;
};
inline Split3 split_at(const std::vector<int64_t>& s, int64_t dim) {  // s: a Shape
  Split3 r;
  r.rows = s[size_t(dim)];
  for (int64_t d = 0; d < dim; ++d) r.outer *= s[size_t(d)];
  for (size_t d = size_t(dim) + 1; d < s.size(); ++d) r.inner *= s[d];
  return r;
}

// dst[o, k, :] = src[o, idx[k], :] for rows of `row_bytes` bytes; src has `src_rows` rows per o.
// Parallel over (o, k).
void index_rows(const std::byte* src, int64_t src_rows, std::byte* dst, const int64_t* idx,
                int64_t k, int64_t outer, int64_t row_bytes);

// Positions 0..k-1 grouped by destination idx[k] (negative idx = skipped): group g holds
// positions order[starts[g] .. starts[g+1]) in increasing order, all with destination dest[g].
struct RowGroups {
  std::vector<int64_t> order, starts, dest;
  int64_t count() const { return int64_t(dest.size()); }
};
RowGroups group_by_row(const int64_t* idx, int64_t k);

// dst[o, idx[k], :] += src[o, k, :] (rows of `inner` elements; negative idx skipped). dst has
// `dst_rows` rows per o. Each destination row is summed by one task in increasing k.
template <class T>
void index_add_rows(T* dst, int64_t dst_rows, const T* src, const int64_t* idx, int64_t k,
                    int64_t outer, int64_t inner);

// Geometry of a gather / scatter along `dim`: the index's shape with `dim` removed ("lines"),
// each operand's strides over those lines, and each operand's stride along `dim`.
// Operand 0 is the one addressed by position j along the line, operand 1 the one addressed
// by the index value, operand 2 the (contiguous i64) index itself.
struct LinePlan {
  StridedPlan<3> plan;
  int64_t len = 0;                   // index.size(dim)
  std::array<int64_t, 3> dim_stride{};
};
LinePlan make_line_plan(const std::vector<int64_t>& index_shape, int64_t dim,
                        const std::array<std::vector<int64_t>, 3>& strides);

// Calls f(pos_off, val_off, idx_off) for each line (parallel over lines, each line by one task).
template <class F>
void for_each_line(const LinePlan& lp, F&& f) {
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(lp.len, 1));
  for_each_row(lp.plan, [&](std::array<int64_t, 3> off, int64_t n, std::array<int64_t, 3> st) {
    for (int64_t i = 0; i < n; ++i) f(off[0] + i * st[0], off[1] + i * st[1], off[2] + i * st[2]);
  }, grain);
}

// out[pos] = x[val] along lines: out[p + j*s0] = x[v + idx[i + j*s2]*s1].
template <class T>
void gather_lines(const LinePlan& lp, T* out, const T* x, const int64_t* idx) {
  for_each_line(lp, [&](int64_t p, int64_t v, int64_t i) {
    for (int64_t j = 0; j < lp.len; ++j)
      out[p + j * lp.dim_stride[0]] = x[v + idx[i + j * lp.dim_stride[2]] * lp.dim_stride[1]];
  });
}

// out[val] += src[pos] along lines: lines own disjoint slices of out, j runs in order.
template <class T>
void scatter_add_lines(const LinePlan& lp, const T* src, T* out, const int64_t* idx) {
  for_each_line(lp, [&](int64_t p, int64_t v, int64_t i) {
    for (int64_t j = 0; j < lp.len; ++j)
      out[v + idx[i + j * lp.dim_stride[2]] * lp.dim_stride[1]] += src[p + j * lp.dim_stride[0]];
  });
}

// out[i] = keep(i) ? x[i] * scale : 0 with keep(i) = philox_uniform(seed, offset + i) >= p,
// over n contiguous elements (x and out may alias).
template <class T>
void dropout_apply(const T* x, T* out, int64_t n, double p, uint64_t seed, uint64_t offset);

}  // namespace engine::cpu
