// Shared device-side helpers of the CUDA kernels (included by .cu files only): launch
// checking, grid sizing, f32 compute over f32/bf16/f16 storage, and a deterministic block
// reduction. Every kernel stores its tensors in their own dtype and computes in f32: one
// template per kernel, instantiated for float, __nv_bfloat16 and __half through
// ENGINE_CUDA_DISPATCH_FLOAT.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backend/cuda/kernels.h"
#include "engine/core/error.h"

namespace engine::cuda::kernels {

inline constexpr int kBlock = 256;  // a power of two: block_reduce halves it

// Throws engine::Error naming the kernel when its launch failed (bad configuration, no device).
inline void check_launch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) fail<Error>("[cuda] kernel ", kernel, " failed to launch: ", cudaGetErrorString(err));
}

// Blocks for a grid-stride loop over n elements (capped: the loop covers the rest).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  int64_t b = (n + block - 1) / block;
  return unsigned(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

#define ENGINE_CUDA_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// Storage ↔ f32 compute. Half types round to nearest even, as the CPU backend does.
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }

// Runs `body` with T bound to the storage type of dtype code `dt` (F32, BF16 or F16).
#define ENGINE_CUDA_DISPATCH_FLOAT(dt, op_name, ...)                                             \
  switch (dt) {                                                                                  \
    case ::engine::cuda::kernels::F32: { using T = float; __VA_ARGS__; break; }                  \
    case ::engine::cuda::kernels::BF16: { using T = __nv_bfloat16; __VA_ARGS__; break; }         \
    case ::engine::cuda::kernels::F16: { using T = __half; __VA_ARGS__; break; }                 \
    default: ::engine::fail<::engine::DTypeError>("[", op_name, "] cuda kernels take f32, bf16 or f16"); \
  }

// The sum (or max) of v over the block (blockDim.x a power of two ≤ kBlock), returned to every
// thread. Fixed tree order: bit-identical from run to run. `sh` holds blockDim.x floats.
__device__ __forceinline__ float block_reduce(float v, float* sh, bool is_max) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      float o = sh[threadIdx.x + s];
      sh[threadIdx.x] = is_max ? fmaxf(sh[threadIdx.x], o) : sh[threadIdx.x] + o;
    }
    __syncthreads();
  }
  float r = sh[0];
  __syncthreads();  // sh is reused by the next reduction
  return r;
}

}  // namespace engine::cuda::kernels
