// Device and launch helpers shared by the tensor-core attention kernels
// (attention_mma_forward.cu, attention_mma_backward.cu): the WMMA fragment types, strided
// global → shared tile copies, the per-warp MMA loops over shared tiles, and the dynamic
// shared-memory opt-in. WMMA fragment element layouts are opaque, so every per-element step
// (scores, masks, softmax, dropout) runs on tiles stored to shared memory, never on fragments.
#pragma once
#include <mma.h>

#include "engine/backend/cuda/attention_device.cuh"
#include "engine/backend/cuda/attention_mma.h"

namespace engine::cuda::kernels::attn::mma {

namespace wmma = nvcuda::wmma;

template <typename T>
using FragA = wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major>;
template <typename T>
using FragBRow = wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major>;
template <typename T>
using FragBCol = wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float>;

// dst[r·ld + c] = src row (r0 + r), column c for r < rows, c < cols; rows at or past `total`
// are zeros. 16-bit values are copied as they are (no rounding). All threads of the block take
// part (call between __syncthreads); consecutive threads read consecutive columns.
template <typename T>
__device__ __forceinline__ void load_tile(T* dst, int64_t ld, const T* src, int64_t st, int64_t sd, int64_t r0,
                                          int rows, int64_t total, int cols) {
  // Fast path, 16 bytes per thread: unit column stride, rows of whole 16-byte chunks, 16-byte
  // aligned source rows (dst rows are: ld·2 = (cols + 8)·2 with cols a multiple of 16, and every
  // region is 128-byte aligned). The condition is the same for every thread of the block.
  constexpr int kVec = 16 / int(sizeof(T));
  if (sd == 1 && cols % kVec == 0 && st % kVec == 0 && reinterpret_cast<uintptr_t>(src) % 16 == 0) {
    const int per_row = cols / kVec, nv = rows * per_row;
    for (int e = threadIdx.x; e < nv; e += blockDim.x) {
      const int r = e / per_row, c = (e % per_row) * kVec;
      const int64_t row = r0 + r;
      const uint4 v = row < total ? *reinterpret_cast<const uint4*>(src + row * st + c) : make_uint4(0, 0, 0, 0);
      *reinterpret_cast<uint4*>(dst + r * ld + c) = v;
    }
    return;
  }
  const int n = rows * cols;
  for (int e = threadIdx.x; e < n; e += blockDim.x) {
    const int r = e / cols, c = e % cols;
    const int64_t row = r0 + r;
    dst[r * ld + c] = row < total ? src[row * st + int64_t(c) * sd] : from_f32<T>(0.f);
  }
}

// Warp-collective: out[16×64] (f32, ld_out) = A[16×depth] · B[64×depth]ᵀ, A's rows at `a`
// (ld_a), B's rows at `b` (ld_b), both 16-bit row-major in shared memory. Bᵀ is read as a
// col_major matrix_b straight from the row-major rows: element (k, n) of Bᵀ is b[n·ld_b + k].
template <typename T>
__device__ __forceinline__ void mma_abt(float* out, int64_t ld_out, const T* a, int64_t ld_a, const T* b,
                                        int64_t ld_b, int depth) {
#pragma unroll
  for (int n = 0; n < kTile / kFrag; ++n) {
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
    for (int kk = 0; kk < depth; kk += kFrag) {
      FragA<T> fa;
      FragBCol<T> fb;
      wmma::load_matrix_sync(fa, a + kk, unsigned(ld_a));
      wmma::load_matrix_sync(fb, b + n * kFrag * ld_b + kk, unsigned(ld_b));
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(out + n * kFrag, acc, unsigned(ld_out), wmma::mem_row_major);
  }
}

// Warp-collective: acc += A[16×64] · B[64 rows, 16 columns], A at `a` (ld_a), B's first row
// at `b` (ld_b), both 16-bit row-major in shared memory.
template <typename T>
__device__ __forceinline__ void mma_ab(FragC& acc, const T* a, int64_t ld_a, const T* b, int64_t ld_b) {
#pragma unroll
  for (int kk = 0; kk < kTile; kk += kFrag) {
    FragA<T> fa;
    FragBRow<T> fb;
    wmma::load_matrix_sync(fa, a + kk, unsigned(ld_a));
    wmma::load_matrix_sync(fb, b + kk * ld_b, unsigned(ld_b));
    wmma::mma_sync(acc, fa, fb, acc);
  }
}

// Warp-collective: writes a warp's 16 rows × `cols` columns held in accumulator fragments
// (acc[t] = columns 16t..16t+15) to a strided global tensor, times `scale`, staging each
// fragment through `stage` (the warp's own 16×16+ f32 shared rows, ld_stage). Rows at or past
// `total` are skipped.
template <typename T, int kChunks>
__device__ __forceinline__ void store_rows(const FragC (&acc)[kChunks], int cols, float scale, float* stage,
                                           int64_t ld_stage, T* dst, int64_t st, int64_t sd, int64_t row0,
                                           int64_t total) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int t = 0; t < kChunks; ++t) {
    if (t * kFrag >= cols) break;  // warp-uniform
    __syncwarp();                  // the previous chunk's reads of `stage` are done
    wmma::store_matrix_sync(stage, acc[t], unsigned(ld_stage), wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < kFrag * kFrag; e += 32) {
      const int r = e / kFrag, c = e % kFrag;
      if (row0 + r < total) dst[(row0 + r) * st + int64_t(t * kFrag + c) * sd] = from_f32<T>(scale * stage[r * ld_stage + c]);
    }
  }
  __syncwarp();
}

// The device's opt-in shared memory per block (bytes), for the dispatch rule.
inline int64_t smem_optin_limit() {
  int dev = 0, bytes = 0;
  cudaError_t err = cudaGetDevice(&dev);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (err != cudaSuccess)
    fail<Error>("[cuda] cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin) failed: ", cudaGetErrorString(err));
  return bytes;
}

// Lets `kernel` use `bytes` of dynamic shared memory (beyond 48 KB needs the opt-in).
template <typename Kernel>
void allow_smem(Kernel kernel, int64_t bytes, const char* name) {
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  if (err != cudaSuccess)
    fail<Error>("[cuda] cudaFuncSetAttribute(", name, ", MaxDynamicSharedMemorySize=", bytes,
                ") failed: ", cudaGetErrorString(err));
}

}  // namespace engine::cuda::kernels::attn::mma
