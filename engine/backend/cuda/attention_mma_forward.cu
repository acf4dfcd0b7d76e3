// Fused attention forward on tensor cores (FlashAttention-2's forward with WMMA, bf16/f16
// storage, f32 accumulation). A block owns 64 queries of one (batch, head), 4 warps × 16 rows;
// the keys and values stream through shared memory 64 at a time. Per tile each warp:
//   S = Q Kᵀ (16×64, MMAs into f32 shared rows)      → scores, masks, bias (score(), as the
//   online softmax per row on the shared rows          CUDA-core kernels), running max m and
//   P (16-bit, dropout applied) → O = O·corr + P V     sum l in registers, O in f32 shared rows
// and finally writes O / l and lse = m + log l, exactly what attention_forward.cu saves (so
// either backward accepts it). Per-row work: lane (r, par) owns row r = lane & 15 and the
// columns par, par+2, … of it; the two lanes of a row combine with one shuffle. Fixed order
// everywhere: bit-identical from run to run.
#include "engine/backend/cuda/attention_mma.cuh"

namespace engine::cuda::kernels::attn::mma {
namespace {

template <typename T>
__global__ void __launch_bounds__(kThreads) forward_kernel(Params p, T* out, Strides4 so, float* lse) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int D = int(p.D), Dv = int(p.Dv);
  const int64_t ldq = ld_half(D), ldv = ld_half(Dv), lds = ld_f32(kTile), ldp = ld_half(kTile), ldo = ld_f32(Dv);
  unsigned char* at = smem;  // carve in forward_smem()'s order
  T* sQ = reinterpret_cast<T*>(at);
  T* sK = reinterpret_cast<T*>(at += half_tile(kRows, D));
  T* sV = reinterpret_cast<T*>(at += half_tile(kRows, D));
  float* sS = reinterpret_cast<float*>(at += half_tile(kTile, Dv));
  T* sP = reinterpret_cast<T*>(at += f32_tile(kRows, kTile));
  float* sO = reinterpret_cast<float*>(at += half_tile(kRows, kTile));

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wr = warp * kFrag;                // the warp's first row in the block's tiles
  const int r = lane & 15, par = lane >> 4;  // this lane's row (of the warp's 16) and column parity
  const int64_t nqt = ceil_div(p.Tq, kRows);
  const int64_t bh = blockIdx.x / nqt, b = bh / p.H, h = bh % p.H;
  const int64_t i0 = (blockIdx.x % nqt) * kRows, i = i0 + wr + r;
  const bool row_ok = i < p.Tq;

  load_tile(sQ, ldq, head_of<T>(p.q, p.sq, b, h), p.sq.t, p.sq.d, i0, kRows, p.Tq, D);
  float* orow = sO + (wr + r) * ldo;
  for (int c = par; c < Dv; c += 2) orow[c] = 0.f;  // corr·O must never see stale memory
  const T* kh = head_of<T>(p.k, p.sk, b, h);
  const T* vh = head_of<T>(p.v, p.sv, b, h);
  float* srow = sS + (wr + r) * lds;
  T* prow = sP + (wr + r) * ldp;
  float m = -INFINITY, l = 0.f;  // the row's running max and sum, the same in both lanes of it
  // Keys past every row's causal horizon are skipped; the bound is the block's, so all warps run
  // the same iterations and the __syncthreads are never divergent.
  const int64_t kend = key_end(p.causal, p.q_offset, p.Tk, i0, kRows);
  for (int64_t j0 = 0; j0 < kend; j0 += kTile) {
    __syncthreads();  // the previous K/V tile is consumed (sQ and sO are written, on the first pass)
    load_tile(sK, ldq, kh, p.sk.t, p.sk.d, j0, kTile, p.Tk, D);
    load_tile(sV, ldv, vh, p.sv.t, p.sv.d, j0, kTile, p.Tk, Dv);
    __syncthreads();
    mma_abt(sS + wr * lds, lds, sQ + wr * ldq, ldq, sK, ldq, D);  // raw q·k for the warp's rows
    __syncwarp();
    float tile_max = -INFINITY;
    for (int c = par; c < kTile; c += 2) {
      const int64_t j = j0 + c;
      float s = -INFINITY;
      if (row_ok && j < p.Tk) s = score<T>(p, b, h, i, j, srow[c]);
      srow[c] = s;
      tile_max = fmaxf(tile_max, s);
    }
    const float mnew = fmaxf(m, fmaxf(tile_max, __shfl_xor_sync(attn::kFullMask, tile_max, 16)));
    const bool none = mnew == -INFINITY;    // the row has seen no key yet: P = 0, O stays 0
    const float corr = none ? 1.f : expf(m - mnew);  // 0 on the first visible tile (m = −inf)
    float psum = 0.f;
    for (int c = par; c < kTile; c += 2) {
      float pj = none ? 0.f : expf(srow[c] - mnew);  // 0 for masked keys and keys past Tk
      psum += pj;
      if (p.dropout_p > 0.f && pj != 0.f) pj *= dropout_factor(p, b, h, i, j0 + c);
      prow[c] = from_f32<T>(pj);
    }
    l = l * corr + (psum + __shfl_xor_sync(attn::kFullMask, psum, 16));
    m = mnew;
    if (corr != 1.f)
      for (int c = par; c < Dv; c += 2) orow[c] *= corr;
    __syncwarp();  // P and the rescaled O rows are visible to the warp's MMAs
    for (int c = 0; c < Dv; c += kFrag) {
      FragC acc;
      wmma::load_matrix_sync(acc, sO + wr * ldo + c, unsigned(ldo), wmma::mem_row_major);
      mma_ab(acc, sP + wr * ldp, ldp, sV + c, ldv);
      wmma::store_matrix_sync(sO + wr * ldo + c, acc, unsigned(ldo), wmma::mem_row_major);
    }
    __syncwarp();  // O rows stored before the next tile's per-row rescale (or the final write)
  }
  __syncwarp();
  if (!row_ok) return;  // no __syncthreads follow
  const bool empty = l == 0.f;  // saw no key: zeros and lse = −inf, not NaN
  const float inv = empty ? 0.f : 1.f / l;
  T* og = out + b * so.b + h * so.h + i * so.t;
  for (int c = par; c < Dv; c += 2) og[c * so.d] = from_f32<T>(orow[c] * inv);
  if (par == 0) lse[bh * p.Tq + i] = empty ? -INFINITY : m + logf(l);
}

}  // namespace

bool attention_forward_mma(int dt, const Params& p, void* out, Strides4 so, float* lse) {
  if (!shape_supported(dt, p.D, p.Dv) || forced_simt()) return false;  // before any CUDA call
  if (!takes_forward(dt, p, smem_optin_limit())) return false;
  const int64_t blocks = query_blocks(p), bytes = forward_smem(p.D, p.Dv);
  if (blocks == 0) return true;  // no query rows: nothing to launch
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    allow_smem(forward_kernel<T>, bytes, "attention_mma_forward");
    forward_kernel<T><<<unsigned(blocks), kThreads, size_t(bytes)>>>(p, static_cast<T*>(out), so, lse);
    check_launch("attention_mma_forward");
  };
  if (dt == BF16)
    launch(__nv_bfloat16{});
  else
    launch(__half{});
  return true;
}

}  // namespace engine::cuda::kernels::attn::mma
