// Device helpers shared by the fused attention kernels (attention_forward.cu,
// attention_backward.cu): warp reductions, tile loads into shared memory, and the one score
// function that the forward, the dQ, the dK/dV and the dbias passes all call, so that the
// probabilities the backward recomputes are the forward's (same dot-product order, same masks).
#pragma once
#include "engine/backend/cuda/attention_kernels.h"
#include "engine/backend/cuda/common.cuh"

namespace engine::cuda::kernels::attn {

inline constexpr unsigned kFullMask = 0xffffffffu;

// Butterfly reductions: every lane ends with the same value (each step combines a pair in
// both orders, and + and max are commutative), in a fixed order: deterministic.
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Σ_c a[c]·b[c] in order c = 0..n-1 (every caller uses this order).
__device__ __forceinline__ float dot(const float* a, const float* b, int64_t n) {
  float s = 0.f;
  for (int64_t c = 0; c < n; ++c) s = fmaf(a[c], b[c], s);
  return s;
}

// The same sum over strided global rows (the dbias pass reads q, k, dO, v in place).
template <typename T>
__device__ __forceinline__ float dot_strided(const T* a, int64_t sa, const T* b, int64_t sb, int64_t n) {
  float s = 0.f;
  for (int64_t c = 0; c < n; ++c) s = fmaf(to_f32(a[c * sa]), to_f32(b[c * sb]), s);
  return s;
}

// dst[r·ld + c] = src row (r0 + r), col c (as f32) for r < rows, c < cols: rows at or past
// `total` are zeros. All threads of the block take part (call between __syncthreads).
template <typename T>
__device__ __forceinline__ void load_rows(float* dst, int ld, const T* src, int64_t st, int64_t sd, int64_t r0,
                                          int rows, int64_t total, int64_t cols) {
  const int n = rows * int(cols);  // ≤ kTile · kMaxHeadDim
  for (int e = threadIdx.x; e < n; e += blockDim.x) {
    int r = e / int(cols), c = e % int(cols);
    int64_t row = r0 + r;
    dst[r * ld + c] = row < total ? to_f32(src[row * st + c * sd]) : 0.f;
  }
}

// Head (b, h) of a strided operand.
template <typename T>
__device__ __forceinline__ const T* head_of(const void* p, const Strides4& s, int64_t b, int64_t h) {
  return static_cast<const T*>(p) + b * s.b + h * s.h;
}

// S_ij = scale·(q_i·k_j) + bias_ij, or −inf where key j is masked out or in query i's causal
// future (as cpu::attn::score_block). `qk` is q_i·k_j from dot() or dot_strided().
template <typename T>
__device__ __forceinline__ float score(const Params& p, int64_t b, int64_t h, int64_t i, int64_t j, float qk) {
  if (!causal_visible(p.causal, p.q_offset, i, j)) return -INFINITY;
  if (p.mask && !(p.mask[b * p.mask_sb + j * p.mask_st] != 0.f)) return -INFINITY;
  float s = p.scale * qk;
  if (p.bias) s += to_f32(head_of<T>(p.bias, p.sbias, b, h)[i * p.sbias.t + j * p.sbias.d]);
  return s;
}

// P_ij = exp(S_ij − lse_i); 0 for a masked entry or a row that saw no key (lse = −inf).
__device__ __forceinline__ float probability(float s, float lse) {
  return s == -INFINITY || lse == -INFINITY ? 0.f : expf(s - lse);
}

// The backward's delta pass for one (b, h, i) row owned by a whole warp (both kernel paths):
// delta[row] = Σ_c dO[row,c] · O[row,c]. Rows past the end return (warp-uniform; no barriers).
template <typename T>
__device__ __forceinline__ void delta_row(const Params& p, const Grads& g, int64_t row) {
  if (row >= p.B * p.H * p.Tq) return;
  const int lane = threadIdx.x % 32;
  const int64_t bh = row / p.Tq, i = row % p.Tq, b = bh / p.H, h = bh % p.H;
  const T* o = head_of<T>(g.out, g.so, b, h) + i * g.so.t;
  const T* d = head_of<T>(g.dout, g.sdo, b, h) + i * g.sdo.t;
  float s = 0.f;
  for (int64_t c = lane; c < p.Dv; c += 32) s = fmaf(to_f32(d[c * g.sdo.d]), to_f32(o[c * g.so.d]), s);
  s = warp_sum(s);
  if (lane == 0) g.delta[row] = s;
}

}  // namespace engine::cuda::kernels::attn
