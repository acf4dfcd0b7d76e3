// Optimizer kernels: one fused AdamW / SGD launch per parameter (grid-stride over its compact
// gradient entries, scattering through the mask's indices when it has one), and the global
// gradient norm as per-block partials in double plus one fixed-order final reduction, so the
// norm is bit-identical from run to run. Parameters are f32/bf16/f16 storage; gradients and
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

// Σ|x|^p (or max|x|) over a block's grid-stride share, then a fixed tree in shared memory.
template <typename T>
__global__ void norm_partials_kernel(const T* x, int64_t n, double p, double* partials) {
  __shared__ double sh[kBlock];
  const bool is_inf = isinf(p), sq = p == 2.0;
  double acc = 0;
  ENGINE_CUDA_GRID_LOOP(i, n) {
    const double a = fabs(double(to_f32(x[i])));
    acc = is_inf ? fmax(acc, a) : acc + (sq ? a * a : pow(a, p));
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

}  // namespace

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
