// Fused attention backward on CUDA (FlashAttention-2's algorithm, CUDA cores, f32 compute).
// The probabilities are recomputed from q, k and the saved row log-sum-exp, never stored:
//   delta_i = rowsum(dO ⊙ O)_i                                      (delta pass)
//   P = exp(S − lse), P̃ = P ⊙ Z (dropout), dP = (dO Vᵀ) ⊙ Z, dS = P ⊙ (dP − delta)
//   dV = P̃ᵀ dO, dK = scale · dSᵀ Q                                 (dK/dV pass, per key)
//   dQ = scale · dS K                                               (dQ pass, per query)
//   dbias = dS summed over the bias's broadcast dims                (dbias pass)
// Every gradient element is owned by one thread that sums its terms in a fixed order: no
// atomics, bit-identical results from run to run. dK/dV and dQ are separate passes (each
// recomputes S) so that neither needs a cross-block reduction.
#include "engine/backend/cuda/attention_device.cuh"

namespace engine::cuda::kernels::attn {
namespace {

// delta[row] = Σ_c dO[row,c] · O[row,c], one warp per (b, h, i) row.
template <typename T>
__global__ void __launch_bounds__(kThreads) delta_kernel(Params p, Grads g) {
  delta_row<T>(p, g, int64_t(blockIdx.x) * kWarps + threadIdx.x / 32);
}

// dK and dV for kWarps keys of one (b, h): warp w owns key j0 + w (its k and v rows in shared
// memory, its dk/dv columns in registers, lane c owning columns c + 32·n); the queries stream
// through shared memory kTile at a time, one query per lane.
template <typename T>
__global__ void __launch_bounds__(kThreads) dkdv_kernel(Params p, Grads g) {
  __shared__ float sq[kTile][kMaxHeadDim + 1];   // lane i reads row i: padded
  __shared__ float sdo[kTile][kMaxHeadDim + 1];  // read per lane (dP) and per column (dV)
  __shared__ float skr[kWarps][kMaxHeadDim];
  __shared__ float svr[kWarps][kMaxHeadDim];
  __shared__ float slse[kTile], sdelta[kTile];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t nkt = ceil_div(p.Tk, kWarps);
  const int64_t bh = blockIdx.x / nkt, b = bh / p.H, h = bh % p.H;
  const int64_t j0 = (blockIdx.x % nkt) * kWarps, j = j0 + warp;
  const bool key_ok = j < p.Tk, want_ds = g.dk != nullptr;

  load_rows(&skr[0][0], kMaxHeadDim, head_of<T>(p.k, p.sk, b, h), p.sk.t, p.sk.d, j0, kWarps, p.Tk, p.D);
  if (want_ds) load_rows(&svr[0][0], kMaxHeadDim, head_of<T>(p.v, p.sv, b, h), p.sv.t, p.sv.d, j0, kWarps, p.Tk, p.Dv);
  const T* qh = head_of<T>(p.q, p.sq, b, h);
  const T* doh = head_of<T>(g.dout, g.sdo, b, h);
  const float* lse_h = g.lse + bh * p.Tq;
  const float* delta_h = want_ds ? g.delta + bh * p.Tq : nullptr;
  float dk[kColsPerLane] = {0.f, 0.f, 0.f, 0.f}, dv[kColsPerLane] = {0.f, 0.f, 0.f, 0.f};
  // Queries before the first one that sees key j0 see none of this block's keys (causal).
  const int64_t ibegin = query_begin(p.causal, p.q_offset, p.Tq, j0) / kTile * kTile;
  for (int64_t i0 = ibegin; i0 < p.Tq; i0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and skr/svr are written, on the first pass)
    load_rows(&sq[0][0], kMaxHeadDim + 1, qh, p.sq.t, p.sq.d, i0, kTile, p.Tq, p.D);
    load_rows(&sdo[0][0], kMaxHeadDim + 1, doh, g.sdo.t, g.sdo.d, i0, kTile, p.Tq, p.Dv);
    if (threadIdx.x < kTile) {
      const int64_t i = i0 + threadIdx.x;
      slse[threadIdx.x] = i < p.Tq ? lse_h[i] : -INFINITY;
      sdelta[threadIdx.x] = want_ds && i < p.Tq ? delta_h[i] : 0.f;
    }
    __syncthreads();
    const int64_t i = i0 + lane;
    float s = -INFINITY;
    if (key_ok && i < p.Tq) s = score<T>(p, b, h, i, j, dot(sq[lane], skr[warp], p.D));
    const float pr = probability(s, slse[lane]);
    const float z = p.dropout_p > 0.f && pr != 0.f ? dropout_factor(p, b, h, i, j) : 1.f;
    if (g.dv) {
      const float pt = pr * z;  // P̃
      for (int ii = 0; ii < kTile; ++ii) {
        const float w = __shfl_sync(kFullMask, pt, ii);
#pragma unroll
        for (int c = 0; c < kColsPerLane; ++c)
          if (32 * c < p.Dv) dv[c] = fmaf(w, sdo[ii][lane + 32 * c], dv[c]);
      }
    }
    if (want_ds) {
      const float dp = dot(sdo[lane], svr[warp], p.Dv) * z;
      const float ds = pr * (dp - sdelta[lane]);
      for (int ii = 0; ii < kTile; ++ii) {
        const float w = __shfl_sync(kFullMask, ds, ii);
#pragma unroll
        for (int c = 0; c < kColsPerLane; ++c)
          if (32 * c < p.D) dk[c] = fmaf(w, sq[ii][lane + 32 * c], dk[c]);
      }
    }
  }
  if (!key_ok) return;
#pragma unroll
  for (int c = 0; c < kColsPerLane; ++c) {
    const int col = lane + 32 * c;
    if (g.dk && col < p.D)
      static_cast<T*>(g.dk)[b * g.sdk.b + h * g.sdk.h + j * g.sdk.t + col * g.sdk.d] = from_f32<T>(p.scale * dk[c]);
    if (g.dv && col < p.Dv)
      static_cast<T*>(g.dv)[b * g.sdv.b + h * g.sdv.h + j * g.sdv.t + col * g.sdv.d] = from_f32<T>(dv[c]);
  }
}

// dQ for kWarps queries of one (b, h): warp w owns query i0 + w, the keys and values stream
// through shared memory, one key per lane (the forward's layout).
template <typename T>
__global__ void __launch_bounds__(kThreads) dq_kernel(Params p, Grads g) {
  __shared__ float sq[kWarps][kMaxHeadDim];
  __shared__ float sdo[kWarps][kMaxHeadDim];
  __shared__ float sk[kTile][kMaxHeadDim + 1];  // read per lane (S) and per column (dQ)
  __shared__ float sv[kTile][kMaxHeadDim + 1];  // read per lane (dP)
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t nqt = ceil_div(p.Tq, kWarps);
  const int64_t bh = blockIdx.x / nqt, b = bh / p.H, h = bh % p.H;
  const int64_t i0 = (blockIdx.x % nqt) * kWarps, i = i0 + warp;
  const bool row_ok = i < p.Tq;

  load_rows(&sq[0][0], kMaxHeadDim, head_of<T>(p.q, p.sq, b, h), p.sq.t, p.sq.d, i0, kWarps, p.Tq, p.D);
  load_rows(&sdo[0][0], kMaxHeadDim, head_of<T>(g.dout, g.sdo, b, h), g.sdo.t, g.sdo.d, i0, kWarps, p.Tq, p.Dv);
  const float lse = row_ok ? g.lse[bh * p.Tq + i] : -INFINITY;
  const float delta = row_ok ? g.delta[bh * p.Tq + i] : 0.f;
  const T* kh = head_of<T>(p.k, p.sk, b, h);
  const T* vh = head_of<T>(p.v, p.sv, b, h);
  float dq[kColsPerLane] = {0.f, 0.f, 0.f, 0.f};
  const int64_t kend = key_end(p.causal, p.q_offset, p.Tk, i0, kWarps);
  for (int64_t j0 = 0; j0 < kend; j0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and sq/sdo are written, on the first pass)
    load_rows(&sk[0][0], kMaxHeadDim + 1, kh, p.sk.t, p.sk.d, j0, kTile, p.Tk, p.D);
    load_rows(&sv[0][0], kMaxHeadDim + 1, vh, p.sv.t, p.sv.d, j0, kTile, p.Tk, p.Dv);
    __syncthreads();
    const int64_t j = j0 + lane;
    float s = -INFINITY;
    if (row_ok && j < p.Tk) s = score<T>(p, b, h, i, j, dot(sq[warp], sk[lane], p.D));
    const float pr = probability(s, lse);
    const float z = p.dropout_p > 0.f && pr != 0.f ? dropout_factor(p, b, h, i, j) : 1.f;
    const float dp = dot(sdo[warp], sv[lane], p.Dv) * z;
    const float ds = pr * (dp - delta);
    for (int jj = 0; jj < kTile; ++jj) {
      const float w = __shfl_sync(kFullMask, ds, jj);
#pragma unroll
      for (int c = 0; c < kColsPerLane; ++c)
        if (32 * c < p.D) dq[c] = fmaf(w, sk[jj][lane + 32 * c], dq[c]);
    }
  }
  if (!row_ok) return;
#pragma unroll
  for (int c = 0; c < kColsPerLane; ++c) {
    const int col = lane + 32 * c;
    if (col < p.D)
      static_cast<T*>(g.dq)[b * g.sdq.b + h * g.sdq.h + i * g.sdq.t + col * g.sdq.d] = from_f32<T>(p.scale * dq[c]);
  }
}

// dbias[e] = Σ dS_ij over the (b, h, i, j) that bias element e is broadcast to, in the fixed
// order b, h, i, j; dS is recomputed from global memory (the score() of the other passes).
// One thread per dbias element: no atomics, no B·H·Tq·Tk scratch.
template <typename T>
__global__ void __launch_bounds__(kThreads) dbias_kernel(Params p, Grads g) {
  const int64_t n = g.nb * g.nh * g.nt * g.nd;
  ENGINE_CUDA_GRID_LOOP(e, n) {
    int64_t r = e;
    const int64_t je = r % g.nd; r /= g.nd;
    const int64_t ie = r % g.nt; r /= g.nt;
    const int64_t he = r % g.nh, be = r / g.nh;
    const bool all_b = g.nb == 1, all_h = g.nh == 1, all_i = g.nt == 1, all_j = g.nd == 1;
    float sum = 0.f;
    for (int64_t b = all_b ? 0 : be; b < (all_b ? p.B : be + 1); ++b)
      for (int64_t h = all_h ? 0 : he; h < (all_h ? p.H : he + 1); ++h) {
        const T* qh = head_of<T>(p.q, p.sq, b, h);
        const T* kh = head_of<T>(p.k, p.sk, b, h);
        const T* vh = head_of<T>(p.v, p.sv, b, h);
        const T* doh = head_of<T>(g.dout, g.sdo, b, h);
        const int64_t bh = b * p.H + h;
        for (int64_t i = all_i ? 0 : ie; i < (all_i ? p.Tq : ie + 1); ++i) {
          const float lse = g.lse[bh * p.Tq + i], delta = g.delta[bh * p.Tq + i];
          for (int64_t j = all_j ? 0 : je; j < (all_j ? p.Tk : je + 1); ++j) {
            const float s = score<T>(p, b, h, i, j, dot_strided(qh + i * p.sq.t, p.sq.d, kh + j * p.sk.t, p.sk.d, p.D));
            const float pr = probability(s, lse);
            if (pr == 0.f) continue;  // masked, or nothing to add
            const float z = p.dropout_p > 0.f ? dropout_factor(p, b, h, i, j) : 1.f;
            const float dp = dot_strided(doh + i * g.sdo.t, g.sdo.d, vh + j * p.sv.t, p.sv.d, p.Dv) * z;
            sum += pr * (dp - delta);
          }
        }
      }
    static_cast<T*>(g.dbias)[be * g.sdbias.b + he * g.sdbias.h + ie * g.sdbias.t + je * g.sdbias.d] = from_f32<T>(sum);
  }
}

}  // namespace

void attention_backward(int dt, const Params& p, const Grads& g) {
  const Plan pl = plan(p.B, p.H, p.Tq, p.Tk);
  const bool want_ds = g.dq || g.dk || g.dbias;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "attention", {
    if (want_ds && pl.delta_blocks > 0) {
      delta_kernel<T><<<unsigned(pl.delta_blocks), kThreads>>>(p, g);
      check_launch("attention_backward_delta");
    }
    if ((g.dk || g.dv) && pl.dkdv_blocks > 0) {
      dkdv_kernel<T><<<unsigned(pl.dkdv_blocks), kThreads>>>(p, g);
      check_launch("attention_backward_dkdv");
    }
    if (g.dq && pl.dq_blocks > 0) {
      dq_kernel<T><<<unsigned(pl.dq_blocks), kThreads>>>(p, g);
      check_launch("attention_backward_dq");
    }
    const int64_t nbias = g.nb * g.nh * g.nt * g.nd;
    if (g.dbias && nbias > 0) {
      dbias_kernel<T><<<grid_for(nbias, kThreads), kThreads>>>(p, g);
      check_launch("attention_backward_dbias");
    }
  });
}

}  // namespace engine::cuda::kernels::attn
