// Fused attention backward on tensor cores (FlashAttention-2's backward with WMMA, bf16/f16
// storage, f32 accumulation). P is recomputed from q, k and the saved f32 log-sum-exp (of
// either forward path), never stored:
//   delta_i = rowsum(dO ⊙ O)                                          (delta pass)
//   P = exp(S − lse), P̃ = P ⊙ Z (dropout), dP = (dO Vᵀ) ⊙ Z, dS = P ⊙ (dP − delta)
//   dK/dV pass, a block per 64 keys (4 warps × 16), queries streaming 64 at a time:
//     Sᵀ = K Qᵀ, dPᵀ = V dOᵀ (f32 shared rows) → P̃ᵀ, dSᵀ (16-bit) → dV += P̃ᵀ dO, dK += dSᵀ Q
//   dQ pass, a block per 64 queries, keys streaming:  S, dP → dS → dQ += dS K
// dK, dV and dQ stay in f32 accumulator fragments for the whole pass (no per-row rescaling is
// needed) and are written once, scaled. Every gradient element belongs to one warp: no
// atomics, bit-identical from run to run. dbias is not computed here (the dispatcher sends
// calls that want it to the CUDA-core kernels).
#include "engine/backend/cuda/attention_mma.cuh"

namespace engine::cuda::kernels::attn::mma {
namespace {

// delta[row] = Σ_c dO[row,c] · O[row,c], one warp per (b, h, i) row (as the CUDA-core pass).
template <typename T>
__global__ void __launch_bounds__(kThreads) delta_kernel(Params p, Grads g) {
  delta_row<T>(p, g, int64_t(blockIdx.x) * kWarps + threadIdx.x / 32);
}

// kChunks: accumulator fragments per gradient row block (max(D, Dv) / 16 rounded up to 4 or 8).
template <typename T, int kChunks>
__global__ void __launch_bounds__(kThreads) dkdv_kernel(Params p, Grads g) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int D = int(p.D), Dv = int(p.Dv);
  const int64_t ldk = ld_half(D), ldv = ld_half(Dv), lds = ld_f32(kTile), ldp = ld_half(kTile);
  unsigned char* at = smem;  // carve in dkdv_smem()'s order
  T* sK = reinterpret_cast<T*>(at);
  T* sQ = reinterpret_cast<T*>(at += half_tile(kRows, D));
  T* sV = reinterpret_cast<T*>(at += half_tile(kTile, D));
  T* sdO = reinterpret_cast<T*>(at += half_tile(kRows, Dv));
  float* sS = reinterpret_cast<float*>(at += half_tile(kTile, Dv));
  float* sdP = reinterpret_cast<float*>(at += f32_tile(kRows, kTile));
  T* sPt = reinterpret_cast<T*>(at += f32_tile(kRows, kTile));
  T* sdS = reinterpret_cast<T*>(at += half_tile(kRows, kTile));
  float* slse = reinterpret_cast<float*>(at += half_tile(kRows, kTile));
  float* sdelta = reinterpret_cast<float*>(at += align128(kTile * 4));

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wr = warp * kFrag, r = lane & 15, par = lane >> 4;  // as the forward: row r, column parity
  const int64_t nkt = ceil_div(p.Tk, kRows);
  const int64_t bh = blockIdx.x / nkt, b = bh / p.H, h = bh % p.H;
  const int64_t j0 = (blockIdx.x % nkt) * kRows, j = j0 + wr + r;  // this lane's key
  const bool key_ok = j < p.Tk, want_ds = g.dk != nullptr;

  load_tile(sK, ldk, head_of<T>(p.k, p.sk, b, h), p.sk.t, p.sk.d, j0, kRows, p.Tk, D);
  if (want_ds) load_tile(sV, ldv, head_of<T>(p.v, p.sv, b, h), p.sv.t, p.sv.d, j0, kRows, p.Tk, Dv);
  const T* qh = head_of<T>(p.q, p.sq, b, h);
  const T* doh = head_of<T>(g.dout, g.sdo, b, h);
  const float* lse_h = g.lse + bh * p.Tq;
  const float* delta_h = want_ds ? g.delta + bh * p.Tq : nullptr;
  FragC dk[kChunks], dv[kChunks];
#pragma unroll
  for (int t = 0; t < kChunks; ++t) wmma::fill_fragment(dk[t], 0.f), wmma::fill_fragment(dv[t], 0.f);
  float* srow = sS + (wr + r) * lds;
  float* dprow = sdP + (wr + r) * lds;
  T* ptrow = sPt + (wr + r) * ldp;
  T* dsrow = sdS + (wr + r) * ldp;
  // Queries before the first one that sees key j0 see none of this block's keys (causal).
  for (int64_t i0 = query_begin(p.causal, p.q_offset, p.Tq, j0); i0 < p.Tq; i0 += kTile) {
    __syncthreads();  // the previous query tile is consumed (and sK/sV are written, on the first pass)
    load_tile(sQ, ldk, qh, p.sq.t, p.sq.d, i0, kTile, p.Tq, D);
    load_tile(sdO, ldv, doh, g.sdo.t, g.sdo.d, i0, kTile, p.Tq, Dv);
    if (threadIdx.x < kTile) {
      const int64_t i = i0 + threadIdx.x;
      slse[threadIdx.x] = i < p.Tq ? lse_h[i] : -INFINITY;
      sdelta[threadIdx.x] = want_ds && i < p.Tq ? delta_h[i] : 0.f;
    }
    __syncthreads();
    mma_abt(sS + wr * lds, lds, sK + wr * ldk, ldk, sQ, ldk, D);              // Sᵀ: k_j · q_i
    if (want_ds) mma_abt(sdP + wr * lds, lds, sV + wr * ldv, ldv, sdO, ldv, Dv);  // dPᵀ: v_j · dO_i
    __syncwarp();
    for (int c = par; c < kTile; c += 2) {
      const int64_t i = i0 + c;
      float s = -INFINITY;
      if (key_ok && i < p.Tq) s = score<T>(p, b, h, i, j, srow[c]);
      const float pr = probability(s, slse[c]);
      const float z = p.dropout_p > 0.f && pr != 0.f ? dropout_factor(p, b, h, i, j) : 1.f;
      ptrow[c] = from_f32<T>(pr * z);                                            // P̃ᵀ
      if (want_ds) dsrow[c] = from_f32<T>(pr * (dprow[c] * z - sdelta[c]));   // dSᵀ
    }
    __syncwarp();  // P̃ᵀ and dSᵀ rows visible to the warp's MMAs
#pragma unroll
    for (int t = 0; t < kChunks; ++t) {
      if (g.dv && t * kFrag < Dv) mma_ab(dv[t], sPt + wr * ldp, ldp, sdO + t * kFrag, ldv);
      if (want_ds && t * kFrag < D) mma_ab(dk[t], sdS + wr * ldp, ldp, sQ + t * kFrag, ldk);
    }
  }
  // The warp's own f32 score rows stage the outputs (no other warp touches them).
  if (g.dv)
    store_rows<T, kChunks>(dv, Dv, 1.f, sS + wr * lds, lds, static_cast<T*>(g.dv) + b * g.sdv.b + h * g.sdv.h,
                           g.sdv.t, g.sdv.d, j0 + wr, p.Tk);
  if (want_ds)
    store_rows<T, kChunks>(dk, D, p.scale, sS + wr * lds, lds, static_cast<T*>(g.dk) + b * g.sdk.b + h * g.sdk.h,
                           g.sdk.t, g.sdk.d, j0 + wr, p.Tk);
}

template <typename T, int kChunks>
__global__ void __launch_bounds__(kThreads) dq_kernel(Params p, Grads g) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int D = int(p.D), Dv = int(p.Dv);
  const int64_t ldk = ld_half(D), ldv = ld_half(Dv), lds = ld_f32(kTile), ldp = ld_half(kTile);
  unsigned char* at = smem;  // carve in dq_smem()'s order
  T* sQ = reinterpret_cast<T*>(at);
  T* sK = reinterpret_cast<T*>(at += half_tile(kRows, D));
  T* sdO = reinterpret_cast<T*>(at += half_tile(kTile, D));
  T* sV = reinterpret_cast<T*>(at += half_tile(kRows, Dv));
  float* sS = reinterpret_cast<float*>(at += half_tile(kTile, Dv));
  float* sdP = reinterpret_cast<float*>(at += f32_tile(kRows, kTile));
  T* sdS = reinterpret_cast<T*>(at += f32_tile(kRows, kTile));

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wr = warp * kFrag, r = lane & 15, par = lane >> 4;
  const int64_t nqt = ceil_div(p.Tq, kRows);
  const int64_t bh = blockIdx.x / nqt, b = bh / p.H, h = bh % p.H;
  const int64_t i0 = (blockIdx.x % nqt) * kRows, i = i0 + wr + r;  // this lane's query
  const bool row_ok = i < p.Tq;

  load_tile(sQ, ldk, head_of<T>(p.q, p.sq, b, h), p.sq.t, p.sq.d, i0, kRows, p.Tq, D);
  load_tile(sdO, ldv, head_of<T>(g.dout, g.sdo, b, h), g.sdo.t, g.sdo.d, i0, kRows, p.Tq, Dv);
  const float lse = row_ok ? g.lse[bh * p.Tq + i] : -INFINITY;
  const float delta = row_ok ? g.delta[bh * p.Tq + i] : 0.f;
  const T* kh = head_of<T>(p.k, p.sk, b, h);
  const T* vh = head_of<T>(p.v, p.sv, b, h);
  FragC dq[kChunks];
#pragma unroll
  for (int t = 0; t < kChunks; ++t) wmma::fill_fragment(dq[t], 0.f);
  float* srow = sS + (wr + r) * lds;
  float* dprow = sdP + (wr + r) * lds;
  T* dsrow = sdS + (wr + r) * ldp;
  const int64_t kend = key_end(p.causal, p.q_offset, p.Tk, i0, kRows);
  for (int64_t j0 = 0; j0 < kend; j0 += kTile) {
    __syncthreads();  // the previous key tile is consumed (and sQ/sdO are written, on the first pass)
    load_tile(sK, ldk, kh, p.sk.t, p.sk.d, j0, kTile, p.Tk, D);
    load_tile(sV, ldv, vh, p.sv.t, p.sv.d, j0, kTile, p.Tk, Dv);
    __syncthreads();
    mma_abt(sS + wr * lds, lds, sQ + wr * ldk, ldk, sK, ldk, D);     // S: q_i · k_j
    mma_abt(sdP + wr * lds, lds, sdO + wr * ldv, ldv, sV, ldv, Dv);  // dP: dO_i · v_j
    __syncwarp();
    for (int c = par; c < kTile; c += 2) {
      const int64_t j = j0 + c;
      float s = -INFINITY;
      if (row_ok && j < p.Tk) s = score<T>(p, b, h, i, j, srow[c]);
      const float pr = probability(s, lse);
      const float z = p.dropout_p > 0.f && pr != 0.f ? dropout_factor(p, b, h, i, j) : 1.f;
      dsrow[c] = from_f32<T>(pr * (dprow[c] * z - delta));
    }
    __syncwarp();
#pragma unroll
    for (int t = 0; t < kChunks; ++t)
      if (t * kFrag < D) mma_ab(dq[t], sdS + wr * ldp, ldp, sK + t * kFrag, ldk);
  }
  store_rows<T, kChunks>(dq, D, p.scale, sS + wr * lds, lds, static_cast<T*>(g.dq) + b * g.sdq.b + h * g.sdq.h,
                         g.sdq.t, g.sdq.d, i0 + wr, p.Tq);
}

template <typename T, int kChunks>
void launch_grads(const Params& p, const Grads& g) {
  const int64_t qb = query_blocks(p), kb = key_blocks(p);
  if ((g.dk || g.dv) && kb > 0) {
    const int64_t bytes = dkdv_smem(p.D, p.Dv);
    allow_smem(dkdv_kernel<T, kChunks>, bytes, "attention_mma_backward_dkdv");
    dkdv_kernel<T, kChunks><<<unsigned(kb), kThreads, size_t(bytes)>>>(p, g);
    check_launch("attention_mma_backward_dkdv");
  }
  if (g.dq && qb > 0) {
    const int64_t bytes = dq_smem(p.D, p.Dv);
    allow_smem(dq_kernel<T, kChunks>, bytes, "attention_mma_backward_dq");
    dq_kernel<T, kChunks><<<unsigned(qb), kThreads, size_t(bytes)>>>(p, g);
    check_launch("attention_mma_backward_dq");
  }
}

template <typename T>
void launch(const Params& p, const Grads& g) {
  const int64_t rows = p.B * p.H * p.Tq;
  if ((g.dq || g.dk) && rows > 0) {
    delta_kernel<T><<<unsigned(ceil_div(rows, int64_t(kWarps))), kThreads>>>(p, g);
    check_launch("attention_mma_backward_delta");
  }
  // Fewer accumulator fragments (registers) when both head dims fit in 64 columns.
  if (p.D <= 64 && p.Dv <= 64)
    launch_grads<T, 4>(p, g);
  else
    launch_grads<T, 8>(p, g);
}

}  // namespace

bool attention_backward_mma(int dt, const Params& p, const Grads& g) {
  if (g.dbias || !shape_supported(dt, p.D, p.Dv) || forced_simt()) return false;  // before any CUDA call
  if (!takes_backward(dt, p, g, smem_optin_limit())) return false;
  // WMMA has no f32 × f32 fragments, so only the two 16-bit storage types are instantiated
  // (ENGINE_CUDA_DISPATCH_FLOAT would also instantiate float).
  if (dt == BF16)
    launch<__nv_bfloat16>(p, g);
  else
    launch<__half>(p, g);
  return true;
}

}  // namespace engine::cuda::kernels::attn::mma
