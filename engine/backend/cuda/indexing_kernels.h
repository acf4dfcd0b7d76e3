// The CUDA indexing kernels (indexing.cu): row gathers (embedding, index_select), the
// deterministic grouped row-sum of their backward, gather / scatter_add along one dim, the
// device-side index range check and Philox dropout. A plain C++17 header over raw device
// pointers. The per-element maths of every kernel lives here as ENGINE_INDEXING_HD functions,
// so that the host compiles the very same code: tests/engine/test_cuda_indexing.cpp runs it on
// the CPU against the CPU backend (Philox bit-for-bit, offsets, summation order) without a GPU.
// (attention_kernels.h has its own Philox word 0 for attention dropout; both follow philox.h.)
#pragma once
#include <cstdint>

#include "engine/backend/cuda/kernels.h"
#include "engine/core/philox_rounds.h"

#if defined(__CUDACC__)
#define ENGINE_INDEXING_HD __host__ __device__
#else
#define ENGINE_INDEXING_HD
#endif

namespace engine::cuda::kernels {

// ---- Philox-4x32-10: the rounds engine/core/philox.h uses, callable on the device.

// The four words of philox4x32(seed, counter), written to out[0..3].
ENGINE_INDEXING_HD inline void philox4x32_hd(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  philox4x32_rounds(seed, counter, out);
}

// philox_uniform: 24 random bits of word 0 in [0, 1); exact in float on host and device.
ENGINE_INDEXING_HD inline float philox_uniform_hd(uint64_t seed, uint64_t index) {
  uint32_t r[4];
  philox4x32_hd(seed, index, r);
  return float(r[0] >> 8) * (1.0f / 16777216.0f);
}

// cpu::dropout_apply's element: kept (uniform ≥ threshold = float(p)) values times `scale`.
ENGINE_INDEXING_HD inline float dropout_element(float x, uint64_t seed, uint64_t index, float threshold, float scale) {
  return philox_uniform_hd(seed, index) >= threshold ? x * scale : 0.f;
}
// The CPU's f32 scale: float(1/(1−p)), 0 when everything is dropped.
inline float dropout_scale(double p) { return p < 1.0 ? float(1.0 / (1.0 - p)) : 0.f; }

// ---- Row gathers: out [outer, k, inner] = src [outer, src_rows, inner] at rows idx[k].

// The src offset of out's element i (row-major), in units of the copied word.
ENGINE_INDEXING_HD inline int64_t row_gather_offset(int64_t i, const int64_t* idx, int64_t k, int64_t src_rows,
                                           int64_t inner) {
  const int64_t e = i % inner, r = i / inner, j = r % k, o = r / k;
  return (o * src_rows + idx[j]) * inner + e;
}

// The word (16, 8, 4, 2 or 1 bytes) a row gather copies in: the widest that divides a row and
// both base addresses, so that every row starts word-aligned. Host-side.
inline int row_copy_word(uint64_t out_addr, uint64_t src_addr, int64_t row_bytes) {
  const uint64_t a = out_addr | src_addr | uint64_t(row_bytes);
  for (int w = 16; w > 1; w /= 2)
    if (a % uint64_t(w) == 0) return w;
  return 1;
}

// ---- Grouped row sums: dst [outer, dst_rows, inner] rows dest[g] = Σ src [outer, k, inner]
// rows order[starts[g] .. starts[g+1]) in that order (cpu::group_by_row's groups, built on the
// host). Each output element is owned by one thread: no atomics, the CPU's summation order.

struct GroupedElement {
  int64_t dst = 0;       // offset of the output element
  int64_t src_base = 0;  // src offset of position p: src_base + order[p] * inner
  int64_t begin = 0, end = 0;
};

// Element i of the (outer, groups, inner) space of a grouped row sum.
ENGINE_INDEXING_HD inline GroupedElement grouped_element(int64_t i, const int64_t* starts, const int64_t* dest,
                                                int64_t groups, int64_t k, int64_t dst_rows, int64_t inner) {
  const int64_t e = i % inner, t = i / inner, g = t % groups, o = t / groups;
  GroupedElement r;
  r.dst = (o * dst_rows + dest[g]) * inner + e;
  r.src_base = o * k * inner + e;
  r.begin = starts[g];
  r.end = starts[g + 1];
  return r;
}

// ---- Lines along one dim (torch.gather / scatter_add), as cpu::LinePlan: the index's shape
// without `dim` walked row-major; operand 0 addressed by position j along the line, operand 1
// by the index value, operand 2 = the index itself.

struct LineLayout {
  Layout lines;                 // shape and the three operands' strides over the lines
  int64_t len = 0;              // index.size(dim)
  int64_t dim_stride[3] = {};   // each operand's stride along dim
};

// Geometry of lines over an index of `ndim` (≤ kMaxDims) dims. Host-side.
inline LineLayout make_line_layout(int ndim, const int64_t* index_shape, int dim, const int64_t* const strides[3]) {
  LineLayout ll;
  ll.len = index_shape[dim];
  for (int d = 0; d < ndim; ++d) {
    if (d == dim) {
      for (int k = 0; k < 3; ++k) ll.dim_stride[k] = strides[k][d];
      continue;
    }
    ll.lines.shape[ll.lines.ndim] = index_shape[d];
    for (int k = 0; k < 3; ++k) ll.lines.stride[k][ll.lines.ndim] = strides[k][d];
    ++ll.lines.ndim;
  }
  return ll;
}

inline int64_t line_count(const LineLayout& ll) {
  int64_t n = 1;
  for (int d = 0; d < ll.lines.ndim; ++d) n *= ll.lines.shape[d];
  return n;
}

// Offsets of line `line` (row-major over ll.lines.shape) in the three operands.
ENGINE_INDEXING_HD inline void line_offsets(const LineLayout& ll, int64_t line, int64_t off[3]) {
  off[0] = off[1] = off[2] = 0;
  for (int d = ll.lines.ndim - 1; d >= 0; --d) {
    const int64_t c = line % ll.lines.shape[d];
    line /= ll.lines.shape[d];
    for (int k = 0; k < 3; ++k) off[k] += c * ll.lines.stride[k][d];
  }
}

// ---- Launch wrappers (stream 0; each launch checked). `dt` is a Dt code.

// Writes the position of the first idx[i] outside [0, size) to *first_bad (a device i64), or
// -1 when all are in range. Integer atomicMin: the same answer every run.
void find_out_of_range(const int64_t* idx, int64_t n, int64_t size, int64_t* first_bad);

// Row gather of `elem_bytes`-byte elements (any dtype: a copy), contiguous src and out.
void row_gather(void* out, const void* src, int elem_bytes, const int64_t* idx, int64_t k, int64_t outer,
                int64_t src_rows, int64_t inner);

// Grouped row sum (above) of dt ∈ F32/BF16/F16 values, summed in f32; rows of dst outside
// every group are left untouched (the caller zero-fills dst).
void grouped_row_sum(int dt, void* dst, const void* src, const int64_t* order, const int64_t* starts,
                     const int64_t* dest, int64_t groups, int64_t k, int64_t outer, int64_t dst_rows, int64_t inner);

// out[pos] = x[val] along lines (any dtype, `elem_bytes` per element), one thread per element.
void gather_lines(void* out, const void* x, int elem_bytes, const int64_t* idx, const LineLayout& ll);

// out (f32) [val] += src (dt ∈ F32/BF16/F16) [pos] along lines: one thread per line, j in
// increasing order, as cpu::scatter_add_lines (lines own disjoint slices of out).
void scatter_add_lines(float* out, int dt, const void* src, const int64_t* idx, const LineLayout& ll);

// out[i] = dropout_element(x[i], seed, offset + i, threshold, scale) over n contiguous dt values.
void dropout(int dt, const void* x, void* out, int64_t n, uint64_t seed, uint64_t offset, float threshold,
             float scale);

}  // namespace engine::cuda::kernels
