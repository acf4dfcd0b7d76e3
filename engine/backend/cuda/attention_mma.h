// The tensor-core (WMMA) path of the fused CUDA attention (attention_mma_forward.cu,
// attention_mma_backward.cu): FlashAttention-2's tiling with 16×16×16 bf16/f16 MMAs and f32
// accumulators, for the calls it covers; everything else keeps the CUDA-core kernels of
// attention_forward.cu / attention_backward.cu. A plain C++17 header over raw pointers (the
// Params/Grads of attention_kernels.h): the dispatch rule and the shared-memory plan are
// inline host functions so that the CPU tests check the very rule and sizes the launches use.
//
// The entry points return false, launching nothing, for a call the MMA path does not take; the
// caller (cuda_attention.cpp) then runs the CUDA-core kernels. Both paths save the same O and
// the same f32 log-sum-exp, so the backward of either accepts the other's forward.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/backend/cuda/attention_kernels.h"
#include "engine/backend/cuda/kernels.h"

namespace engine::cuda::kernels::attn::mma {

inline constexpr int kRows = 64;               // queries (forward, dQ) or keys (dK/dV) of a block
inline constexpr int kWarps = 4;               // each warp owns 16 of those rows
inline constexpr int kThreads = kWarps * 32;
inline constexpr int kTile = 64;               // keys (forward, dQ) or queries (dK/dV) per step
inline constexpr int kFrag = 16;               // the WMMA tile: m = n = k = 16
inline constexpr int kMaxDim = 128;            // D and Dv: multiples of 16 up to this
inline constexpr int kPadHalf = 8;             // 16-bit rows padded by 16 bytes (ld stays ≡ 0 mod 8)
inline constexpr int kPadF32 = 4;              // f32 rows padded by 16 bytes (ld stays ≡ 0 mod 4)

// Leading dimensions (elements) of the shared tiles: a 16-bit tile of `cols` columns, an f32 one.
ENGINE_ATTN_HD constexpr int64_t ld_half(int64_t cols) { return cols + kPadHalf; }
ENGINE_ATTN_HD constexpr int64_t ld_f32(int64_t cols) { return cols + kPadF32; }
// Each shared region starts 128-byte aligned (WMMA pointers must be 32-byte aligned).
ENGINE_ATTN_HD constexpr int64_t align128(int64_t bytes) { return (bytes + 127) / 128 * 128; }
ENGINE_ATTN_HD constexpr int64_t half_tile(int64_t rows, int64_t cols) { return align128(rows * ld_half(cols) * 2); }
ENGINE_ATTN_HD constexpr int64_t f32_tile(int64_t rows, int64_t cols) { return align128(rows * ld_f32(cols) * 4); }

// Dynamic shared memory (bytes) of each kernel, region by region in the order the kernels carve
// it (the kernels call these very functions for their offsets' totals).
//   forward: Q, K [64×D], V [64×Dv] (16-bit), S [64×64] f32, P [64×64] 16-bit, O [64×Dv] f32
//   dK/dV:   K, Q [64×D], V, dO [64×Dv], Sᵀ and dPᵀ [64×64] f32, P̃ᵀ and dSᵀ [64×64] 16-bit, lse, delta
//   dQ:      Q, K [64×D], dO, V [64×Dv], S and dP [64×64] f32, dS [64×64] 16-bit
ENGINE_ATTN_HD int64_t forward_smem(int64_t D, int64_t Dv) {
  return 2 * half_tile(kRows, D) + half_tile(kTile, Dv) + f32_tile(kRows, kTile) + half_tile(kRows, kTile) +
         f32_tile(kRows, Dv);
}
ENGINE_ATTN_HD int64_t dkdv_smem(int64_t D, int64_t Dv) {
  return 2 * half_tile(kRows, D) + 2 * half_tile(kRows, Dv) + 2 * f32_tile(kRows, kTile) +
         2 * half_tile(kRows, kTile) + 2 * align128(kTile * 4);
}
ENGINE_ATTN_HD int64_t dq_smem(int64_t D, int64_t Dv) {
  return 2 * half_tile(kRows, D) + 2 * half_tile(kRows, Dv) + 2 * f32_tile(kRows, kTile) + half_tile(kRows, kTile);
}

// ENGINE_CUDA_ATTENTION=simt forces the CUDA-core kernels (read on every call, so a test or a
// benchmark can compare both paths in one process).
inline bool forced_simt() {
  const char* e = std::getenv("ENGINE_CUDA_ATTENTION");
  return e != nullptr && std::strcmp(e, "simt") == 0;
}

// The head dims and dtype the MMA kernels take: bf16 or f16 storage, D and Dv multiples of 16
// in [16, 128] (f32 and other head dims keep the CUDA-core kernels).
inline bool shape_supported(int dt, int64_t D, int64_t Dv) {
  auto ok = [](int64_t d) { return d >= kFrag && d <= kMaxDim && d % kFrag == 0; };
  return (dt == BF16 || dt == F16) && ok(D) && ok(Dv);
}

// Blocks of one launch (gridDim.x): a block per 64 queries (forward, dQ) or 64 keys (dK/dV).
inline int64_t query_blocks(const Params& p) { return p.B * p.H * ceil_div(p.Tq, kRows); }
inline int64_t key_blocks(const Params& p) { return p.B * p.H * ceil_div(p.Tk, kRows); }

// The whole rule: does the MMA path take this call? `smem_limit` is the device's opt-in
// shared memory per block (cudaDevAttrMaxSharedMemoryPerBlockOptin). The backward needs dbias
// from the CUDA-core path's dbias pass, so a backward that wants dbias is not taken.
inline bool takes_forward(int dt, const Params& p, int64_t smem_limit) {
  return !forced_simt() && shape_supported(dt, p.D, p.Dv) && forward_smem(p.D, p.Dv) <= smem_limit &&
         query_blocks(p) <= INT32_MAX;
}
inline bool takes_backward(int dt, const Params& p, const Grads& g, int64_t smem_limit) {
  return !forced_simt() && g.dbias == nullptr && shape_supported(dt, p.D, p.Dv) &&
         dkdv_smem(p.D, p.Dv) <= smem_limit && dq_smem(p.D, p.Dv) <= smem_limit && query_blocks(p) <= INT32_MAX &&
         key_blocks(p) <= INT32_MAX && ceil_div(p.B * p.H * p.Tq, int64_t(kWarps)) <= INT32_MAX;
}

// Launch when takes_forward/takes_backward say so (on stream 0, like the CUDA-core kernels) and
// return true; otherwise launch nothing and return false. Defined with ENGINE_CUDA only.
bool attention_forward_mma(int dt, const Params& p, void* out, Strides4 so, float* lse);
bool attention_backward_mma(int dt, const Params& p, const Grads& g);

}  // namespace engine::cuda::kernels::attn::mma
