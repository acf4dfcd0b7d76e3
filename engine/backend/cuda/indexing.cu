// CUDA indexing kernels (see indexing_kernels.h): row gathers, grouped row sums (the
// deterministic scatter-add of embedding / index_select backward), gather / scatter_add along
// one dim, the index range check and Philox dropout. The per-element maths is the
// ENGINE_INDEXING_HD code of indexing_kernels.h; this file adds only the grid loops,
// loads/stores and launches. Pure copies move words of the element's size (wider words for
// whole aligned rows); sums load bf16/f16/f32 and add in f32. No float atomics anywhere: every
// output element has one owner thread that adds its contributions in the CPU backend's order.
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backend/cuda/common.cuh"
#include "engine/backend/cuda/indexing_kernels.h"

namespace engine::cuda::kernels {
namespace {

#define ENGINE_INDEXING_CUDA_CHECK(call)                                                     \
  do {                                                                                       \
    cudaError_t err_ = (call);                                                               \
    if (err_ != cudaSuccess) fail<Error>("[cuda] ", #call, " failed: ", cudaGetErrorString(err_)); \
  } while (0)

// Runs `body` with W bound to an unsigned word of `bytes` bytes (1, 2, 4 or 8).
#define ENGINE_INDEXING_DISPATCH_WORD(bytes, op_name, ...)                                  \
  switch (bytes) {                                                                          \
    case 1: { using W = uint8_t; __VA_ARGS__; break; }                                      \
    case 2: { using W = uint16_t; __VA_ARGS__; break; }                                     \
    case 4: { using W = uint32_t; __VA_ARGS__; break; }                                     \
    case 8: { using W = unsigned long long; __VA_ARGS__; break; }                           \
    default: ::engine::fail<::engine::DTypeError>("[", op_name, "] no cuda copy of ", bytes, "-byte elements"); \
  }

__global__ void find_out_of_range_kernel(const int64_t* idx, int64_t n, int64_t size, unsigned long long* first_bad) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    const int64_t v = idx[i];
    if (v < 0 || v >= size) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

// n = outer·k·inner words; inner counted in words of W.
template <typename W>
__global__ void row_gather_kernel(W* out, const W* src, const int64_t* idx, int64_t k, int64_t src_rows,
                                  int64_t inner, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) out[i] = src[row_gather_offset(i, idx, k, src_rows, inner)];
}

// n = outer·groups·inner output elements, each summing its group's rows in order.
template <typename T>
__global__ void grouped_row_sum_kernel(T* dst, const T* src, const int64_t* order, const int64_t* starts,
                                       const int64_t* dest, int64_t groups, int64_t k, int64_t dst_rows,
                                       int64_t inner, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    const GroupedElement g = grouped_element(i, starts, dest, groups, k, dst_rows, inner);
    float acc = 0.f;  // the CPU adds into a zeroed f32 row: 0 + s0 + s1 + ...
    for (int64_t p = g.begin; p < g.end; ++p) acc += to_f32(src[g.src_base + order[p] * inner]);
    dst[g.dst] = from_f32<T>(acc);
  }
}

// n = lines·len elements of the index.
template <typename W>
__global__ void gather_lines_kernel(W* out, const W* x, const int64_t* idx, LineLayout ll, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    int64_t off[3];
    line_offsets(ll, i / ll.len, off);
    const int64_t j = i % ll.len;
    out[off[0] + j * ll.dim_stride[0]] = x[off[1] + idx[off[2] + j * ll.dim_stride[2]] * ll.dim_stride[1]];
  }
}

// One thread per line: it alone touches its slice of out, adding j = 0, 1, ... in order.
template <typename T>
__global__ void scatter_add_lines_kernel(float* out, const T* src, const int64_t* idx, LineLayout ll,
                                         int64_t lines) {
  ENGINE_CUDA_GRID_LOOP(line, lines) {
    int64_t off[3];
    line_offsets(ll, line, off);
    for (int64_t j = 0; j < ll.len; ++j)
      out[off[1] + idx[off[2] + j * ll.dim_stride[2]] * ll.dim_stride[1]] += to_f32(src[off[0] + j * ll.dim_stride[0]]);
  }
}

template <typename T>
__global__ void dropout_kernel(const T* x, T* out, int64_t n, uint64_t seed, uint64_t offset, float threshold,
                               float scale) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    out[i] = from_f32<T>(dropout_element(to_f32(x[i]), seed, offset + uint64_t(i), threshold, scale));
  }
}

template <typename W>
void launch_row_gather(void* out, const void* src, const int64_t* idx, int64_t k, int64_t outer, int64_t src_rows,
                       int64_t row_bytes) {
  const int64_t inner = row_bytes / int64_t(sizeof(W)), n = outer * k * inner;
  row_gather_kernel<W><<<grid_for(n), kBlock, 0, 0>>>(static_cast<W*>(out), static_cast<const W*>(src), idx, k,
                                                       src_rows, inner, n);
  check_launch("row_gather");
}

}  // namespace

void find_out_of_range(const int64_t* idx, int64_t n, int64_t size, int64_t* first_bad) {
  // All bits set: ULLONG_MAX for atomicMin, read back as the i64 −1 ("none").
  ENGINE_INDEXING_CUDA_CHECK(cudaMemsetAsync(first_bad, 0xFF, sizeof(int64_t), 0));
  if (n == 0) return;
  auto* first = reinterpret_cast<unsigned long long*>(first_bad);
  find_out_of_range_kernel<<<grid_for(n), kBlock, 0, 0>>>(idx, n, size, first);
  check_launch("find_out_of_range");
}

void row_gather(void* out, const void* src, int elem_bytes, const int64_t* idx, int64_t k, int64_t outer,
                int64_t src_rows, int64_t inner) {
  const int64_t row_bytes = inner * elem_bytes;
  if (outer * k * row_bytes == 0) return;
  switch (row_copy_word(reinterpret_cast<uintptr_t>(out), reinterpret_cast<uintptr_t>(src), row_bytes)) {
    case 16: return launch_row_gather<uint4>(out, src, idx, k, outer, src_rows, row_bytes);
    case 8: return launch_row_gather<unsigned long long>(out, src, idx, k, outer, src_rows, row_bytes);
    case 4: return launch_row_gather<uint32_t>(out, src, idx, k, outer, src_rows, row_bytes);
    case 2: return launch_row_gather<uint16_t>(out, src, idx, k, outer, src_rows, row_bytes);
    default: return launch_row_gather<uint8_t>(out, src, idx, k, outer, src_rows, row_bytes);
  }
}

void grouped_row_sum(int dt, void* dst, const void* src, const int64_t* order, const int64_t* starts,
                     const int64_t* dest, int64_t groups, int64_t k, int64_t outer, int64_t dst_rows, int64_t inner) {
  const int64_t n = outer * groups * inner;
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "index_add", {
    grouped_row_sum_kernel<T><<<grid_for(n), kBlock, 0, 0>>>(static_cast<T*>(dst), static_cast<const T*>(src), order,
                                                              starts, dest, groups, k, dst_rows, inner, n);
    check_launch("grouped_row_sum");
  });
}

void gather_lines(void* out, const void* x, int elem_bytes, const int64_t* idx, const LineLayout& ll) {
  const int64_t n = line_count(ll) * ll.len;
  if (n == 0) return;
  ENGINE_INDEXING_DISPATCH_WORD(elem_bytes, "gather", {
    gather_lines_kernel<W><<<grid_for(n), kBlock, 0, 0>>>(static_cast<W*>(out), static_cast<const W*>(x), idx, ll, n);
    check_launch("gather_lines");
  });
}

void scatter_add_lines(float* out, int dt, const void* src, const int64_t* idx, const LineLayout& ll) {
  const int64_t lines = line_count(ll);
  if (lines == 0 || ll.len == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "scatter_add", {
    scatter_add_lines_kernel<T><<<grid_for(lines), kBlock, 0, 0>>>(out, static_cast<const T*>(src), idx, ll, lines);
    check_launch("scatter_add_lines");
  });
}

void dropout(int dt, const void* x, void* out, int64_t n, uint64_t seed, uint64_t offset, float threshold,
             float scale) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "dropout", {
    dropout_kernel<T><<<grid_for(n), kBlock, 0, 0>>>(static_cast<const T*>(x), static_cast<T*>(out), n, seed, offset,
                                                      threshold, scale);
    check_launch("dropout");
  });
}

}  // namespace engine::cuda::kernels
