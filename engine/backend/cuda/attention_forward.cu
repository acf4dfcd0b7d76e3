// Fused attention forward on CUDA (flash-attention style, CUDA cores, f32 compute): a block
// owns kWarps query rows of one (batch, head), one warp per row; the keys and values stream
// through shared memory kTile at a time, one key per lane. Each warp keeps the online softmax
// of its row (running max m, running sum l, the output row rescaled by exp(m_old − m_new)) in
// registers, lane c owning output columns c, c+32, c+64, c+96. Only out and the row
// log-sum-exp are written; the Tq×Tk scores never leave registers. The reductions are warp
// butterflies in a fixed order, so results are bit-identical from run to run.
#include "engine/backend/cuda/attention_device.cuh"

namespace engine::cuda::kernels::attn {
namespace {

template <typename T>
__global__ void __launch_bounds__(kThreads) forward_kernel(Params p, T* out, Strides4 so, float* lse) {
  __shared__ float sq[kWarps][kMaxHeadDim];
  __shared__ float sk[kTile][kMaxHeadDim + 1];  // lane j reads row j: padded against bank conflicts
  __shared__ float sv[kTile][kMaxHeadDim];      // row jj read by all lanes, one column each
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t nqt = ceil_div(p.Tq, kWarps);
  const int64_t bh = blockIdx.x / nqt, b = bh / p.H, h = bh % p.H;
  const int64_t i0 = (blockIdx.x % nqt) * kWarps, i = i0 + warp;
  const bool row_ok = i < p.Tq;

  load_rows(&sq[0][0], kMaxHeadDim, head_of<T>(p.q, p.sq, b, h), p.sq.t, p.sq.d, i0, kWarps, p.Tq, p.D);
  const T* kh = head_of<T>(p.k, p.sk, b, h);
  const T* vh = head_of<T>(p.v, p.sv, b, h);
  float m = -INFINITY, l = 0.f, acc[kColsPerLane] = {0.f, 0.f, 0.f, 0.f};
  // Keys past every row's causal horizon are skipped; the loop bound is the block's, so every
  // warp runs the same iterations (the __syncthreads below are never divergent).
  const int64_t kend = key_end(p.causal, p.q_offset, p.Tk, i0, kWarps);
  for (int64_t j0 = 0; j0 < kend; j0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and sq is written, on the first pass)
    load_rows(&sk[0][0], kMaxHeadDim + 1, kh, p.sk.t, p.sk.d, j0, kTile, p.Tk, p.D);
    load_rows(&sv[0][0], kMaxHeadDim, vh, p.sv.t, p.sv.d, j0, kTile, p.Tk, p.Dv);
    __syncthreads();
    const int64_t j = j0 + lane;
    float s = -INFINITY;
    if (row_ok && j < p.Tk) s = score<T>(p, b, h, i, j, dot(sq[warp], sk[lane], p.D));
    const float mnew = fmaxf(m, warp_max(s));  // the same in every lane of the warp
    if (mnew == -INFINITY) continue;           // warp-uniform: nothing seen yet, nothing to add
    const float corr = expf(m - mnew);         // 0 on the first visible tile (m = −inf)
    float pj = expf(s - mnew);                 // 0 for masked keys and keys past Tk
    l = l * corr + warp_sum(pj);
    m = mnew;
    if (p.dropout_p > 0.f && pj != 0.f) pj *= dropout_factor(p, b, h, i, j);
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) acc[c] *= corr;
    for (int jj = 0; jj < kTile; ++jj) {
      const float w = __shfl_sync(kFullMask, pj, jj);
#pragma unroll
      for (int c = 0; c < kColsPerLane; ++c)
        if (32 * c < p.Dv) acc[c] = fmaf(w, sv[jj][lane + 32 * c], acc[c]);  // skip unused chunks
    }
  }
  if (!row_ok) return;
  const bool empty = l == 0.f;  // saw no key: zeros and lse = −inf, not NaN
  const float inv = empty ? 0.f : 1.f / l;
  T* orow = out + b * so.b + h * so.h + i * so.t;
#pragma unroll
  for (int c = 0; c < kColsPerLane; ++c) {
    const int col = lane + 32 * c;
    if (col < p.Dv) orow[col * so.d] = from_f32<T>(acc[c] * inv);
  }
  if (lane == 0) lse[bh * p.Tq + i] = empty ? -INFINITY : m + logf(l);
}

}  // namespace

void attention_forward(int dt, const Params& p, void* out, Strides4 so, float* lse) {
  const Plan pl = plan(p.B, p.H, p.Tq, p.Tk);
  if (pl.forward_blocks == 0) return;  // no query rows: nothing to launch
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "attention", {
    forward_kernel<T><<<unsigned(pl.forward_blocks), kThreads>>>(p, static_cast<T*>(out), so, lse);
    check_launch("attention_forward");
  });
}

}  // namespace engine::cuda::kernels::attn
