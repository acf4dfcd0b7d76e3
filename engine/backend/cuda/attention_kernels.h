// Launch wrappers and host/device maths of the fused CUDA attention (attention_forward.cu,
// attention_backward.cu). A plain C++17 header over raw device pointers, like kernels.h: the
// Tensor-level code (cuda_attention.cpp) picks dtypes, strides and scratch buffers.
//
// The tiling, the visibility rules (causal with a query offset, key mask), and the Philox
// dropout draw are `__host__ __device__` functions here so that the CPU tests exercise the very
// code the kernels run: the dropout mask must equal the CPU backend's bit for bit
// (engine/core/philox.h, engine/backend/cpu/attention_block.h), and the causal tile bounds
// must never skip a key that some query of the tile sees.
#pragma once
#include <cstdint>

#include "engine/backend/cpu/attention.h"  // cpu::Strides4 (a plain struct)
#include "engine/core/philox_rounds.h"

#if defined(__CUDACC__)
#define ENGINE_ATTN_HD __host__ __device__ __forceinline__
#else
#define ENGINE_ATTN_HD inline
#endif

namespace engine::cuda::kernels::attn {

using cpu::Strides4;

inline constexpr int kMaxHeadDim = 128;  // D and Dv (one lane owns ≤ 4 output columns)
inline constexpr int kWarps = 8;         // rows a block owns: queries (forward, dQ) or keys (dK/dV)
inline constexpr int kTile = 32;         // rows streamed per step, one per lane: keys or queries
inline constexpr int kThreads = kWarps * 32;
inline constexpr int kColsPerLane = kMaxHeadDim / 32;

// Shared memory of each kernel in bytes (static arrays, all f32; rows read by one lane each are
// padded by one float so that 32 lanes walking their own rows hit 32 different banks).
inline constexpr int kForwardSmem = 4 * (kWarps * kMaxHeadDim + kTile * (kMaxHeadDim + 1) + kTile * kMaxHeadDim);
inline constexpr int kDkDvSmem = 4 * (2 * kTile * (kMaxHeadDim + 1) + 2 * kWarps * kMaxHeadDim + 2 * kTile);
inline constexpr int kDqSmem = 4 * (2 * kWarps * kMaxHeadDim + 2 * kTile * (kMaxHeadDim + 1));
static_assert(kForwardSmem <= 48 * 1024 && kDkDvSmem <= 48 * 1024 && kDqSmem <= 48 * 1024,
              "static shared memory is limited to 48 KB per block");

// Everything the kernels read about one call. Pointers are device memory; q, k, v and bias have
// the storage type T of the kernel (f32, bf16 or f16), the mask is f32 (nonzero = attend) over
// all Tk keys (prefix keys included), lse is f32. Passed to kernels by value.
struct Params {
  int64_t B = 1, H = 1, Tq = 0, Tk = 0, D = 0, Dv = 0;
  const void* q = nullptr;
  Strides4 sq;
  const void* k = nullptr;
  Strides4 sk;
  const void* v = nullptr;  // may be null in a backward that needs only dv
  Strides4 sv;
  const void* bias = nullptr;  // broadcast to [B,H,Tq,Tk]: stride 0 on broadcast dims
  Strides4 sbias;
  const float* mask = nullptr;  // [B|1, Tk]
  int64_t mask_sb = 0, mask_st = 1;
  float scale = 1.f;
  bool causal = false;
  int64_t q_offset = 0;  // query i sees key j iff j <= i + q_offset
  float dropout_p = 0.f;
  uint64_t seed = 0, offset = 0;
};

// The backward's extra operands. Each gradient pointer may be null (not computed). dbias is
// [nb, nh, nt, nd] with real strides sdbias; a size-1 dim is summed over (the bias was
// broadcast along it), any other size is the full B, H, Tq or Tk.
struct Grads {
  const void* out = nullptr;  // needed with delta (dq, dk or dbias)
  Strides4 so;
  const float* lse = nullptr;  // [B,H,Tq] contiguous
  const void* dout = nullptr;
  Strides4 sdo;
  float* delta = nullptr;  // scratch [B,H,Tq] f32: rowsum(dO ⊙ O)
  void* dq = nullptr;
  Strides4 sdq;
  void* dk = nullptr;
  Strides4 sdk;
  void* dv = nullptr;
  Strides4 sdv;
  void* dbias = nullptr;
  Strides4 sdbias;
  int64_t nb = 1, nh = 1, nt = 1, nd = 1;  // dbias sizes
};

// dt: kernels::F32, BF16 or F16 (kernels.h), the storage type of q, k, v, bias, out and grads.
// All launches on the default stream; a failed launch throws engine::Error naming the kernel.
void attention_forward(int dt, const Params& p, void* out, Strides4 so, float* lse);
void attention_backward(int dt, const Params& p, const Grads& g);

// ---- host/device maths shared with the CPU tests -------------------------------------------

ENGINE_ATTN_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Does query i see key j under the causal rule (always true without it)?
ENGINE_ATTN_HD bool causal_visible(bool causal, int64_t q_offset, int64_t i, int64_t j) {
  return !causal || j <= i + q_offset;
}

// One past the last key that any of the queries [i0, i0+rows) sees: the forward and dQ loops
// stop there (a causal tile skips the keys in every row's future). In [0, Tk].
ENGINE_ATTN_HD int64_t key_end(bool causal, int64_t q_offset, int64_t Tk, int64_t i0, int64_t rows) {
  if (!causal) return Tk;
  int64_t e = i0 + rows - 1 + q_offset + 1;  // last row's last visible key, plus one
  return e < 0 ? 0 : e > Tk ? Tk : e;
}

// The first query that sees any of the keys [j0, ...): the dK/dV loop starts at the query tile
// holding it (earlier queries see none of these keys). In [0, Tq].
ENGINE_ATTN_HD int64_t query_begin(bool causal, int64_t q_offset, int64_t Tq, int64_t j0) {
  if (!causal) return 0;
  int64_t i = j0 - q_offset;
  return i < 0 ? 0 : i > Tq ? Tq : i;
}

// Philox-4x32-10, word 0, as engine::philox4x32 computes it (the rounds are shared).
ENGINE_ATTN_HD uint32_t philox_word0(uint64_t seed, uint64_t counter) {
  uint32_t r[4];
  philox4x32_rounds(seed, counter, r);
  return r[0];
}

// The dropout factor of probability (b,h,i,j): 0 when dropped, 1/(1−p) when kept. The draw
// index and the comparison are the CPU's (attn::dropout_scales): same seed, same mask.
ENGINE_ATTN_HD float dropout_factor(const Params& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  uint64_t index = p.offset + uint64_t(((b * p.H + h) * p.Tq + i) * p.Tk + j);
  float u = float(philox_word0(p.seed, index) >> 8) * (1.0f / 16777216.0f);
  return u >= p.dropout_p ? 1.f / (1.f - p.dropout_p) : 0.f;
}

// Blocks of each kernel (one dimension, gridDim.x): forward/dQ own kWarps queries, dK/dV kWarps
// keys, the delta pass kWarps query rows; dbias is a grid-stride loop.
struct Plan {
  int64_t forward_blocks = 0, dq_blocks = 0, dkdv_blocks = 0, delta_blocks = 0;
};

ENGINE_ATTN_HD Plan plan(int64_t B, int64_t H, int64_t Tq, int64_t Tk) {
  Plan pl;
  pl.forward_blocks = pl.dq_blocks = B * H * ceil_div(Tq, kWarps);
  pl.dkdv_blocks = B * H * ceil_div(Tk, kWarps);
  pl.delta_blocks = ceil_div(B * H * Tq, kWarps);
  return pl;
}

}  // namespace engine::cuda::kernels::attn
