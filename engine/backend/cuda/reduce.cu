// Reduction CUDA kernels over any dims and strides: sum (f32 accumulation for f32/bf16/f16,
// exact i64 for integers), max with the index of its first occurrence, and max's vjp (a put
// along the reduced dim). Two shapes of work, both in a fixed order (bit-identical from run to
// run, no atomics):
//   block per output  — threads take strided partials, then a shared-memory tree (rows that are
//                       contiguous along the reduced dims: coalesced reads);
//   thread per output — one thread walks its reduced elements in order (column reductions,
//                       where neighbouring outputs are neighbours in memory, and short ones).
#include <algorithm>

#include "engine/backend/cuda/elementwise_math.h"
#include "engine/backend/cuda/strided.cuh"

namespace engine::cuda::kernels {
namespace {

// The reduction of v over the block with f (a fixed tree: deterministic); `sh` holds
// blockDim.x (a power of two ≤ kBlock) values. Every thread of the block must call it.
template <typename A, typename F>
__device__ __forceinline__ A block_reduce_t(A v, A* sh, F f) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] = f(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  A r = sh[0];
  __syncthreads();  // sh is reused by the next output
  return r;
}

struct Plus {
  template <typename A>
  __device__ A operator()(A a, A b) const { return a + b; }
};
struct Pick {
  template <typename V>
  __device__ ArgMax<V> operator()(ArgMax<V> a, ArgMax<V> b) const { return argmax_pick(a, b); }
};

__device__ __forceinline__ int64_t offset1(const Layout& l, int64_t i) {
  int64_t off[1];
  offsets<1>(l, i, off);
  return off[0];
}

// f32 sums are scaled in f32 and rounded once to T (as the CPU's f32 sum, mul, convert).
__device__ __forceinline__ float scaled(float v, float s) { return v * s; }
__device__ __forceinline__ int64_t scaled(int64_t v, float) { return v; }

// A sum in `splits` pieces: piece v = s·n_out + o (neighbouring o side by side) reduces
// r ∈ [s·chunk, min(n_red, (s+1)·chunk)) of output o. With one piece it writes out[o] directly;
// otherwise its unscaled partial goes to part[v] and sum_finish_kernel adds the pieces in order.
struct Pieces {
  int64_t splits, chunk;
  __device__ int64_t begin(int64_t v, int64_t n_out) const { return (v / n_out) * chunk; }
  __device__ int64_t end(int64_t v, int64_t n_out, int64_t n_red) const {
    const int64_t e = begin(v, n_out) + chunk;
    return e < n_red ? e : n_red;
  }
};

// T the input's storage, O the output's: O = T for float types, int64 for integers and bool.
template <typename T, typename O>
__global__ void sum_block_kernel(const T* x, O* out, compute_t<O>* part, float scale, Layout kept, int64_t n_out,
                                 Layout red, int64_t n_red, Pieces p) {
  using A = compute_t<O>;
  __shared__ A sh[kBlock];
  for (int64_t v = blockIdx.x; v < n_out * p.splits; v += gridDim.x) {  // uniform over the block
    const int64_t o = v % n_out, r1 = p.end(v, n_out, n_red);
    const T* base = x + offset1(kept, o);
    A acc = 0;
    for (int64_t r = p.begin(v, n_out) + threadIdx.x; r < r1; r += blockDim.x) acc += A(load(base, offset1(red, r)));
    const A total = block_reduce_t(acc, sh, Plus{});
    if (threadIdx.x == 0) {
      if (p.splits == 1) store(out, o, scaled(total, scale));
      else part[v] = total;
    }
  }
}

template <typename T, typename O>
__global__ void sum_thread_kernel(const T* x, O* out, compute_t<O>* part, float scale, Layout kept, int64_t n_out,
                                  Layout red, int64_t n_red, Pieces p) {
  using A = compute_t<O>;
  ENGINE_CUDA_GRID_LOOP(v, n_out * p.splits) {
    const int64_t o = v % n_out, r1 = p.end(v, n_out, n_red);
    const T* base = x + offset1(kept, o);
    A acc = 0;
    for (int64_t r = p.begin(v, n_out); r < r1; ++r) acc += A(load(base, offset1(red, r)));
    if (p.splits == 1) store(out, o, scaled(acc, scale));
    else part[v] = acc;
  }
}

template <typename O>
__global__ void sum_finish_kernel(const compute_t<O>* part, O* out, float scale, int64_t n_out, int64_t splits) {
  ENGINE_CUDA_GRID_LOOP(o, n_out) {
    compute_t<O> acc = 0;
    for (int64_t s = 0; s < splits; ++s) acc += part[s * n_out + o];
    store(out, o, scaled(acc, scale));
  }
}

// Max in pieces as the sum: one piece writes values/indices directly, several write their
// candidates (global reduced index, −1 for an empty piece) to part[v] for max_finish_kernel.
// The value written is the winning element itself: no rounding.
template <typename T, typename M>
__device__ void put_max(const M& best, int64_t v, int64_t o, const T* base, Layout red, T* values, int64_t* indices,
                        M* part, const Pieces& p) {
  if (p.splits > 1) {
    part[v] = best;
  } else {
    values[o] = base[offset1(red, best.i)];
    indices[o] = best.i;
  }
}

template <typename T>
__global__ void max_block_kernel(const T* x, T* values, int64_t* indices, ArgMax<compute_t<T>>* part, Layout kept,
                                 int64_t n_out, Layout red, int64_t n_red, Pieces p) {
  using M = ArgMax<compute_t<T>>;
  __shared__ M sh[kBlock];
  for (int64_t v = blockIdx.x; v < n_out * p.splits; v += gridDim.x) {  // uniform over the block
    const int64_t o = v % n_out, r1 = p.end(v, n_out, n_red);
    const T* base = x + offset1(kept, o);
    M best{compute_t<T>(0), -1};
    for (int64_t r = p.begin(v, n_out) + threadIdx.x; r < r1; r += blockDim.x)
      best = argmax_pick(best, M{load(base, offset1(red, r)), r});
    best = block_reduce_t(best, sh, Pick{});
    if (threadIdx.x == 0) put_max(best, v, o, base, red, values, indices, part, p);
  }
}

template <typename T>
__global__ void max_thread_kernel(const T* x, T* values, int64_t* indices, ArgMax<compute_t<T>>* part, Layout kept,
                                  int64_t n_out, Layout red, int64_t n_red, Pieces p) {
  using M = ArgMax<compute_t<T>>;
  ENGINE_CUDA_GRID_LOOP(v, n_out * p.splits) {
    const int64_t o = v % n_out, r1 = p.end(v, n_out, n_red);
    const T* base = x + offset1(kept, o);
    M best{compute_t<T>(0), -1};
    for (int64_t r = p.begin(v, n_out); r < r1; ++r) best = argmax_pick(best, M{load(base, offset1(red, r)), r});
    put_max(best, v, o, base, red, values, indices, part, p);
  }
}

// Every output has a non-empty piece (n_red ≥ 1), so the pick over its pieces has an index.
template <typename T>
__global__ void max_finish_kernel(const T* x, T* values, int64_t* indices, const ArgMax<compute_t<T>>* part,
                                  Layout kept, int64_t n_out, Layout red, int64_t splits) {
  using M = ArgMax<compute_t<T>>;
  ENGINE_CUDA_GRID_LOOP(o, n_out) {
    M best{compute_t<T>(0), -1};
    for (int64_t s = 0; s < splits; ++s) best = argmax_pick(best, part[s * n_out + o]);
    values[o] = x[offset1(kept, o) + offset1(red, best.i)];
    indices[o] = best.i;
  }
}

template <typename T>
__global__ void put_along_kernel(const T* g, const int64_t* idx, T* gx, int64_t outer, int64_t n, int64_t inner) {
  ENGINE_CUDA_GRID_LOOP(k, outer * inner) {
    const int64_t o = k / inner, i = k % inner, j = idx[k];
    if (j >= 0 && j < n) gx[(o * n + j) * inner + i] = g[k];  // indices come from max: always in range
  }
}

// Thread per output when the reduction is short, or when it walks columns: outputs adjacent in
// memory (kept stride 1) while the reduced elements are not.
bool per_thread(const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red) {
  const int64_t kept_inner = kept.ndim ? kept.stride[0][kept.ndim - 1] : 0;
  const int64_t red_inner = red.ndim ? red.stride[0][red.ndim - 1] : 0;
  return n_red <= 32 || (kept_inner == 1 && red_inner != 1 && n_out >= 256);
}

unsigned blocks_for_outputs(int64_t n_out) { return unsigned(n_out < (int64_t(1) << 30) ? n_out : int64_t(1) << 30); }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

// Few outputs over many elements would leave most of the GPU idle: enough pieces for ~32k
// threads (thread per output) or ~512 blocks, each piece at least 64 / 4096 elements long.
// A function of the shapes only, so results never depend on which GPU runs them.
int64_t reduce_splits(const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red) {
  const bool thread = per_thread(kept, n_out, red, n_red);
  const int64_t want = thread ? 32768 : 512, min_piece = thread ? 64 : 4096;
  if (n_out == 0 || n_out >= want) return 1;
  const int64_t s = std::min(ceil_div(want, n_out), ceil_div(n_red, min_piece));
  return std::max<int64_t>(1, std::min<int64_t>(s, 4096));
}

int64_t sum_workspace_bytes(int dt, const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red) {
  const int64_t splits = reduce_splits(kept, n_out, red, n_red);
  const bool integer = dt == I32 || dt == I64 || dt == BOOL;
  return splits > 1 ? n_out * splits * (integer ? 8 : 4) : 0;
}

int64_t max_workspace_bytes(const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red) {
  const int64_t splits = reduce_splits(kept, n_out, red, n_red);
  return splits > 1 ? n_out * splits * int64_t(sizeof(ArgMax<int64_t>)) : 0;  // the largest candidate
}

void sum(int dt, const void* x, void* out, double scale, const Layout& kept, int64_t n_out, const Layout& red,
         int64_t n_red, void* workspace) {
  if (n_out == 0) return;
  const bool integer = dt == I32 || dt == I64 || dt == BOOL;
  if (integer && scale != 1.0) fail<ValueError>("[sum] internal: an integer sum cannot be scaled");
  const bool thread = per_thread(kept, n_out, red, n_red);
  const int64_t splits = reduce_splits(kept, n_out, red, n_red);
  if (splits > 1 && !workspace) fail<ValueError>("[sum] internal: a split sum needs its workspace");
  const Pieces p{splits, ceil_div(n_red, splits)};
  const int64_t n_virtual = n_out * splits;
  auto launch = [&](auto* px, auto* po) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(px)>>;
    using O = std::remove_pointer_t<decltype(po)>;
    auto* part = static_cast<compute_t<O>*>(workspace);
    if (thread)
      sum_thread_kernel<T, O><<<grid_for(n_virtual), kBlock>>>(px, po, part, float(scale), kept, n_out, red, n_red, p);
    else
      sum_block_kernel<T, O><<<blocks_for_outputs(n_virtual), kBlock>>>(px, po, part, float(scale), kept, n_out, red,
                                                                         n_red, p);
    check_launch("sum");
    if (splits > 1) sum_finish_kernel<O><<<grid_for(n_out), kBlock>>>(part, po, float(scale), n_out, splits);
  };
  int64_t* out_i = static_cast<int64_t*>(out);
  switch (dt) {
    case F32: launch(static_cast<const float*>(x), static_cast<float*>(out)); break;
    case BF16: launch(static_cast<const __nv_bfloat16*>(x), static_cast<__nv_bfloat16*>(out)); break;
    case F16: launch(static_cast<const __half*>(x), static_cast<__half*>(out)); break;
    case I32: launch(static_cast<const int32_t*>(x), out_i); break;
    case I64: launch(static_cast<const int64_t*>(x), out_i); break;
    case BOOL: launch(static_cast<const bool*>(x), out_i); break;
    default: fail<DTypeError>("[sum] cuda sums take f32, bf16, f16 or integers (f64 is CPU-only)");
  }
  check_launch("sum");
}

void max(int dt, const void* x, void* values, int64_t* indices, const Layout& kept, int64_t n_out, const Layout& red,
         int64_t n_red, void* workspace) {
  if (n_out == 0) return;
  if (n_red < 1) fail<ShapeError>("[max] internal: an empty reduction");
  const bool thread = per_thread(kept, n_out, red, n_red);
  const int64_t splits = reduce_splits(kept, n_out, red, n_red);
  if (splits > 1 && !workspace) fail<ValueError>("[max] internal: a split max needs its workspace");
  const Pieces p{splits, ceil_div(n_red, splits)};
  const int64_t n_virtual = n_out * splits;
  auto launch = [&](auto* px, auto* pv) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(px)>>;
    auto* part = static_cast<ArgMax<compute_t<T>>*>(workspace);
    if (thread)
      max_thread_kernel<T><<<grid_for(n_virtual), kBlock>>>(px, pv, indices, part, kept, n_out, red, n_red, p);
    else
      max_block_kernel<T><<<blocks_for_outputs(n_virtual), kBlock>>>(px, pv, indices, part, kept, n_out, red, n_red, p);
    check_launch("max");
    if (splits > 1) max_finish_kernel<T><<<grid_for(n_out), kBlock>>>(px, pv, indices, part, kept, n_out, red, splits);
  };
  switch (dt) {
    case F32: launch(static_cast<const float*>(x), static_cast<float*>(values)); break;
    case BF16: launch(static_cast<const __nv_bfloat16*>(x), static_cast<__nv_bfloat16*>(values)); break;
    case F16: launch(static_cast<const __half*>(x), static_cast<__half*>(values)); break;
    case I32: launch(static_cast<const int32_t*>(x), static_cast<int32_t*>(values)); break;
    case I64: launch(static_cast<const int64_t*>(x), static_cast<int64_t*>(values)); break;
    default: fail<DTypeError>("[max] cuda max takes f32, bf16, f16, i32 or i64 (the op converts bool)");
  }
  check_launch("max");
}

void put_along(int dt, const void* g, const int64_t* idx, void* gx, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "max_backward", {
    put_along_kernel<T><<<grid_for(outer * inner), kBlock>>>(static_cast<const T*>(g), idx, static_cast<T*>(gx),
                                                             outer, n, inner);
  });
  check_launch("max_backward");
}

}  // namespace engine::cuda::kernels
