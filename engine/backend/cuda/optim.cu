// Optimizer kernels: fused AdamW / SGD steps, one launch per parameter (grid-stride over its
// compact gradient entries, scattering through the mask's indices when it has one) or one
// launch over a table of parameters (multi-tensor: blocks take (tensor, chunk) pairs); the
// global gradient norm as per-block (per-chunk) partials in double plus one fixed-order final
// reduction, so the norm is bit-identical from run to run; gradient scaling. Parameters are f32/bf16/f16 storage; gradients and
// optimizer state are f32, the state dtype of engine/optim.
#include <cmath>

#include "engine/backend/cuda/common.cuh"
#include "engine/backend/cuda/optim_kernels.h"

namespace engine::cuda::kernels {
namespace {

constexpr int64_t kMaxNormBlocks = 1024;

template <typename T>
__global__ void adamw_kernel(T* param, const float* grad, float* m, float* v, float* vmax, int64_t n,
                             const int64_t* idx, int64_t width, AdamWScalars s) {
  ENGINE_CUDA_GRID_LOOP(k, n) {
    const int64_t i = masked_entry(k, idx, width);
    float mk = m[k], vk = v[k];
    const float w = adamw_update(to_f32(param[i]), grad[k], mk, vk, vmax ? vmax + k : nullptr, s);
    m[k] = mk, v[k] = vk;
    param[i] = from_f32<T>(w);
  }
}

template <typename T>
__global__ void sgd_kernel(T* param, const float* grad, float* buf, int64_t n, const int64_t* idx, int64_t width,
                           SGDScalars s) {
  ENGINE_CUDA_GRID_LOOP(k, n) {
    const int64_t i = masked_entry(k, idx, width);
    param[i] = from_f32<T>(sgd_update(to_f32(param[i]), grad[k], buf ? buf + k : nullptr, s));
  }
}

// acc + |x|^p for a = |x|, rounded once per operation: on the device nvcc would otherwise
// contract acc + a·a into one DFMA, and the host tests (emulator) could not predict the bits.
__device__ __forceinline__ double norm_add(double acc, double a, double p, bool sq) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(acc, sq ? __dmul_rn(a, a) : pow(a, p));
#else
  return acc + (sq ? a * a : pow(a, p));
#endif
}

// Σ|x|^p (or max|x|) over a block's grid-stride share, then a fixed tree in shared memory.
template <typename T>
__global__ void norm_partials_kernel(const T* x, int64_t n, double p, double* partials) {
  __shared__ double sh[kBlock];
  const bool is_inf = isinf(p), sq = p == 2.0;
  double acc = 0;
  ENGINE_CUDA_GRID_LOOP(i, n) {
    const double a = fabs(double(to_f32(x[i])));
    acc = is_inf ? fmax(acc, a) : norm_add(acc, a, p, sq);
  }
  const unsigned tid = threadIdx.x;
  sh[tid] = acc;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) sh[tid] = is_inf ? fmax(sh[tid], sh[tid + s]) : sh[tid] + sh[tid + s];
    __syncthreads();
  }
  if (tid == 0) partials[blockIdx.x] = sh[0];
}

__global__ void norm_finish_kernel(const double* partials, int64_t n_parts, bool is_inf, double* out) {
  __shared__ double sh[kBlock];
  const unsigned tid = threadIdx.x;
  double acc = 0;
  for (int64_t i = tid; i < n_parts; i += blockDim.x) acc = is_inf ? fmax(acc, partials[i]) : acc + partials[i];
  sh[tid] = acc;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) sh[tid] = is_inf ? fmax(sh[tid], sh[tid + s]) : sh[tid] + sh[tid + s];
    __syncthreads();
  }
  if (tid == 0) out[0] = sh[0];
}

template <typename T>
__global__ void scale_kernel(T* x, int64_t n, float s) {
  ENGINE_CUDA_GRID_LOOP(i, n) x[i] = from_f32<T>(rn::mul(to_f32(x[i]), s));
}

// ---- multi-tensor kernels: block-uniform loops over chunks (c depends on blockIdx only, so
// every barrier below is reached by the whole block), a per-chunk dtype switch.

__device__ __forceinline__ int64_t chunk_end(int64_t begin, int64_t n) {
  return begin + kMultiChunk < n ? begin + kMultiChunk : n;
}

// Calls body(c, e, begin, end, T{}) for each chunk c of the table this block owns, with e the
// chunk's tensor entry (a register copy), [begin, end) its elements and T its storage type
// (the host accepts F32, BF16 and F16 only).
template <class Entry, class Body>
__device__ void for_each_chunk(const Entry* table, int64_t count, int64_t chunks, Body body) {
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const Entry e = table[find_tensor(table, count, c)];
    const int64_t begin = (c - e.chunk_begin) * kMultiChunk, end = chunk_end(begin, e.n);
    if (e.dt == F32) body(c, e, begin, end, float{});
    else if (e.dt == BF16) body(c, e, begin, end, __nv_bfloat16{});
    else body(c, e, begin, end, __half{});
  }
}

template <typename T>
__device__ void adamw_chunk(const AdamWTensor& e, int64_t begin, int64_t end) {
  T* param = static_cast<T*>(e.param);
  for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {  // adamw_kernel's body
    const int64_t i = masked_entry(k, e.idx, e.width);
    float mk = e.m[k], vk = e.v[k];
    const float w = adamw_update(to_f32(param[i]), e.grad[k], mk, vk, e.vmax ? e.vmax + k : nullptr, e.s);
    e.m[k] = mk, e.v[k] = vk;
    param[i] = from_f32<T>(w);
  }
}

__global__ void adamw_multi_kernel(const AdamWTensor* table, int64_t count, int64_t chunks) {
  for_each_chunk(table, count, chunks, [](int64_t, const AdamWTensor& e, int64_t begin, int64_t end, auto type) {
    adamw_chunk<decltype(type)>(e, begin, end);
  });
}

template <typename T>
__device__ void sgd_chunk(const SGDTensor& e, int64_t begin, int64_t end) {
  T* param = static_cast<T*>(e.param);
  for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {  // sgd_kernel's body
    const int64_t i = masked_entry(k, e.idx, e.width);
    param[i] = from_f32<T>(sgd_update(to_f32(param[i]), e.grad[k], e.buf ? e.buf + k : nullptr, e.s));
  }
}

__global__ void sgd_multi_kernel(const SGDTensor* table, int64_t count, int64_t chunks) {
  for_each_chunk(table, count, chunks, [](int64_t, const SGDTensor& e, int64_t begin, int64_t end, auto type) {
    sgd_chunk<decltype(type)>(e, begin, end);
  });
}

template <typename T>
__device__ double norm_chunk(const NormTensor& e, int64_t begin, int64_t end, double p, bool is_inf, bool sq) {
  const T* x = static_cast<const T*>(e.x);
  double acc = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double a = fabs(double(to_f32(x[i])));
    acc = is_inf ? fmax(acc, a) : norm_add(acc, a, p, sq);
  }
  return acc;
}

__global__ void norm_multi_kernel(const NormTensor* table, int64_t count, int64_t chunks, double p,
                                  double* partials) {
  __shared__ double sh[kBlock];
  const bool is_inf = isinf(p), sq = p == 2.0;
  const unsigned tid = threadIdx.x;
  for_each_chunk(table, count, chunks, [&](int64_t c, const NormTensor& e, int64_t begin, int64_t end, auto type) {
    sh[tid] = norm_chunk<decltype(type)>(e, begin, end, p, is_inf, sq);
    __syncthreads();  // block-uniform: c depends on blockIdx only
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (tid < s) sh[tid] = is_inf ? fmax(sh[tid], sh[tid + s]) : sh[tid] + sh[tid + s];
      __syncthreads();
    }
    if (tid == 0) partials[c] = sh[0];
    __syncthreads();  // sh[0] is read before the next chunk overwrites sh
  });
}

template <typename T>
__device__ void scale_chunk(const NormTensor& e, int64_t begin, int64_t end) {
  T* x = static_cast<T*>(e.x);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) x[i] = from_f32<T>(rn::mul(to_f32(x[i]), e.s));
}

__global__ void scale_multi_kernel(const NormTensor* table, int64_t count, int64_t chunks) {
  for_each_chunk(table, count, chunks, [](int64_t, const NormTensor& e, int64_t begin, int64_t end, auto type) {
    scale_chunk<decltype(type)>(e, begin, end);
  });
}

// Blocks for `chunks` chunks (the grid-stride loops take any rest).
unsigned multi_grid(int64_t chunks) { return grid_for(chunks, 1); }

}  // namespace

void adamw_multi_step(const AdamWTensor* table, int64_t count, int64_t chunks) {
  if (chunks == 0) return;
  adamw_multi_kernel<<<multi_grid(chunks), kBlock>>>(table, count, chunks);
  check_launch("adamw_multi_tensor");
}

void sgd_multi_step(const SGDTensor* table, int64_t count, int64_t chunks) {
  if (chunks == 0) return;
  sgd_multi_kernel<<<multi_grid(chunks), kBlock>>>(table, count, chunks);
  check_launch("sgd_multi_tensor");
}

void norm_multi_partials(const NormTensor* table, int64_t count, int64_t chunks, double p, double* partials) {
  if (chunks == 0) return;
  norm_multi_kernel<<<multi_grid(chunks), kBlock>>>(table, count, chunks, p, partials);
  check_launch("grad_norm_multi_tensor");
}

void scale_multi(const NormTensor* table, int64_t count, int64_t chunks) {
  if (chunks == 0) return;
  scale_multi_kernel<<<multi_grid(chunks), kBlock>>>(table, count, chunks);
  check_launch("scale_grads_multi_tensor");
}

void adamw_step(void* param, int param_dt, const float* grad, float* m, float* v, float* vmax, int64_t n,
                const int64_t* idx, int64_t width, const AdamWScalars& s) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(param_dt, "AdamW", {
    adamw_kernel<T><<<grid_for(n), kBlock>>>(static_cast<T*>(param), grad, m, v, s.amsgrad ? vmax : nullptr, n, idx,
                                             width, s);
  });
  check_launch("adamw_step");
}

void sgd_step(void* param, int param_dt, const float* grad, float* buf, int64_t n, const int64_t* idx,
              int64_t width, const SGDScalars& s) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(param_dt, "SGD", {
    sgd_kernel<T><<<grid_for(n), kBlock>>>(static_cast<T*>(param), grad, s.use_momentum ? buf : nullptr, n, idx,
                                           width, s);
  });
  check_launch("sgd_step");
}

int64_t norm_blocks(int64_t n) {
  const int64_t b = (n + kBlock - 1) / kBlock;
  return b < 1 ? 1 : b > kMaxNormBlocks ? kMaxNormBlocks : b;
}

void norm_partials(const void* x, int dt, int64_t n, double p, double* partials) {
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "clip_grad_norm_", {
    norm_partials_kernel<T><<<unsigned(norm_blocks(n)), kBlock>>>(static_cast<const T*>(x), n, p, partials);
  });
  check_launch("grad_norm_partials");
}

void norm_finish(const double* partials, int64_t n_parts, bool is_inf, double* out) {
  norm_finish_kernel<<<1, kBlock>>>(partials, n_parts, is_inf, out);
  check_launch("grad_norm_finish");
}

void scale_inplace(void* x, int dt, int64_t n, double s) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "scale_grads_", {
    scale_kernel<T><<<grid_for(n), kBlock>>>(static_cast<T*>(x), n, float(s));
  });
  check_launch("scale_grads");
}

}  // namespace engine::cuda::kernels
