// QLoRA dequantization kernels: rows of an NF4 (double-quantized absmax) or int8 weight into a
// dense f32/bf16/f16 tile that cuBLAS then multiplies (cuda_quant.cpp). One thread per packed
// byte (two NF4 values) or per int8 value, grid-stride over the tile; the 16 NF4 code values
// sit in shared memory (a per-thread index into __constant__ memory would serialise). The
// decode is the shared __host__ __device__ code of quant_kernels.h: f32 output is the CPU's
// dequantize() bit for bit.
#include "engine/backend/cuda/common.cuh"
#include "engine/backend/cuda/quant_kernels.h"

namespace engine::cuda::kernels {
namespace {

__constant__ float c_nf4[16] = {ENGINE_NF4_CODE_VALUES};

template <typename T>
__global__ void nf4_kernel(const uint8_t* codes, const int8_t* absmax_codes, const float* group_scales, float offset,
                           int64_t first, int64_t pairs, T* out) {
  __shared__ float table[16];
  if (threadIdx.x < 16) table[threadIdx.x] = c_nf4[threadIdx.x];
  __syncthreads();  // before the loop: every thread reaches it
  ENGINE_CUDA_GRID_LOOP(j, pairs) {
    const int64_t e = first + 2 * j;  // even: the high nibble of byte e/2
    out[2 * j] = from_f32<T>(nf4_value(table, codes, absmax_codes, group_scales, offset, e));
    out[2 * j + 1] = from_f32<T>(nf4_value(table, codes, absmax_codes, group_scales, offset, e + 1));
  }
}

template <typename T>
__global__ void int8_kernel(const int8_t* codes, const float* row_scales, int64_t r0, int64_t in, int64_t n, T* out) {
  ENGINE_CUDA_GRID_LOOP(i, n) out[i] = from_f32<T>(int8_value(codes, row_scales, in, r0 + i / in, i % in));
}

}  // namespace

void dequantize_nf4(const uint8_t* codes, const int8_t* absmax_codes, const float* group_scales, float offset,
                    int64_t r0, int64_t r1, int64_t in, void* out, int out_dt) {
  const int64_t pairs = (r1 - r0) * in / 2;  // in % 64 == 0: whole bytes and blocks per row
  if (pairs <= 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(out_dt, "dequantize_nf4", {
    nf4_kernel<T><<<grid_for(pairs), kBlock>>>(codes, absmax_codes, group_scales, offset, r0 * in, pairs,
                                               static_cast<T*>(out));
  });
  check_launch("dequantize_nf4");
}

void dequantize_int8(const int8_t* codes, const float* row_scales, int64_t r0, int64_t r1, int64_t in, void* out,
                     int out_dt) {
  const int64_t n = (r1 - r0) * in;
  if (n <= 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(out_dt, "dequantize_int8", {
    int8_kernel<T><<<grid_for(n), kBlock>>>(codes, row_scales, r0, in, n, static_cast<T*>(out));
  });
  check_launch("dequantize_int8");
}

}  // namespace engine::cuda::kernels
