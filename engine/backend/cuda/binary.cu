// Broadcasting binary CUDA kernels over any strides and any dtype: arithmetic (add, sub, mul,
// div, pow, maximum, minimum), comparisons to bool, and where(cond, a, b). One template per
// kernel on the storage type T, computing in compute_t<T> (f32 for half types, rounded once
// on store, as the CPU's map2). The per-element maths is elementwise_math.h.
#include "engine/backend/cuda/elementwise_math.h"
#include "engine/backend/cuda/strided.cuh"

namespace engine::cuda::kernels {
namespace {

template <typename T>
__global__ void binary_kernel(BinOp op, T* out, const T* a, const T* b, Layout l, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    int64_t off[3];
    offsets<3>(l, i, off);
    store(out, off[0], binary_op<compute_t<T>>(op, load(a, off[1]), load(b, off[2])));
  }
}

template <typename T>
__global__ void compare_kernel(CmpOp op, bool* out, const T* a, const T* b, Layout l, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    int64_t off[3];
    offsets<3>(l, i, off);
    out[off[0]] = compare_op<compute_t<T>>(op, load(a, off[1]), load(b, off[2]));
  }
}

// A selection, not arithmetic: the chosen element is moved as is.
template <typename T>
__global__ void where_kernel(T* out, const bool* cond, const T* a, const T* b, Layout l, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    int64_t off[4];
    offsets<4>(l, i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

}  // namespace

void binary(BinOp op, int dt, void* out, const void* a, const void* b, const Layout& l, int64_t n) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_ANY(dt, "binary", {
    binary_kernel<T><<<grid_for(n), kBlock>>>(op, static_cast<T*>(out), static_cast<const T*>(a),
                                              static_cast<const T*>(b), l, n);
  });
  check_launch("binary");
}

void compare(CmpOp op, int dt, bool* out, const void* a, const void* b, const Layout& l, int64_t n) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_ANY(dt, "compare", {
    compare_kernel<T><<<grid_for(n), kBlock>>>(op, out, static_cast<const T*>(a), static_cast<const T*>(b), l, n);
  });
  check_launch("compare");
}

void where(int dt, void* out, const bool* cond, const void* a, const void* b, const Layout& l, int64_t n) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_ANY(dt, "where", {
    where_kernel<T><<<grid_for(n), kBlock>>>(static_cast<T*>(out), cond, static_cast<const T*>(a),
                                             static_cast<const T*>(b), l, n);
  });
  check_launch("where");
}

}  // namespace engine::cuda::kernels
