// Fused attention backward (flash-attention-2): recomputes each block of P = exp(S − lse) from
// the saved row log-sum-exp instead of storing it, then
//   dV += P̃ᵀ dO,  dP̃ = dO Vᵀ,  dS = P ⊙ (dP − delta) with delta = rowsum(dO ⊙ O),
//   dQ += scale · dS K,  dK += scale · dSᵀ Q,  dbias += dS       (P̃ = P after dropout)
// One task owns a (batch, head) pair, and also loops over the heads/batches that a broadcast
// dbias sums over, so every gradient element is written by one task in a fixed order:
// bit-identical results for any thread count, and no T×T or per-thread gradient buffers.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "engine/backend/cpu/attention.h"
#include "engine/backend/cpu/attention_block.h"
#include "engine/backend/cpu/attention_simd.h"
#include "engine/backend/cpu/threading.h"

namespace engine::cpu {
namespace {

using attn::kBlockK;
using attn::kBlockQ;
using attn::kNegInf;
using attn::Mat;

template <typename T>
struct BackwardScratch {
  std::vector<T> qbuf, kbuf, vbuf, dobuf, delta, P, Pt, Z, dP, dq, dk, dv;
};

// dS = P ⊙ (dP − delta) feeds dq, dk and dbias; dv alone needs neither v nor out.
template <typename T>
bool needs_ds(const AttentionGrads<T>& g) {
  return g.dq || g.dk || g.dbias;
}

// delta_i = Σ_c dO[i,c] · O[i,c] for the head's Tq rows.
template <typename T>
void row_deltas(const AttentionArgs<T>& a, const AttentionGrads<T>& g, int64_t b, int64_t h,
                std::vector<T>& delta) {
  const T* o = attn::head(g.out, g.so, b, h);
  const T* d = attn::head(g.dout, g.sdo, b, h);
  delta.assign(size_t(a.Tq), T(0));
  for (int64_t i = 0; i < a.Tq; ++i)
    for (int64_t c = 0; c < a.Dv; ++c) delta[i] += o[i * g.so.t + c * g.so.d] * d[i * g.sdo.t + c * g.sdo.d];
}

// P (m×n) = exp(S − lse_row) in place; rows that saw no key (lse = −inf) are all zero.
template <typename T>
void probabilities(T* S, const T* lse, int64_t m, int64_t n) {
  for (int64_t r = 0; r < m; ++r) {
    if (lse[r] == kNegInf<T>)
      std::fill(S + r * n, S + (r + 1) * n, T(0));
    else
      attn::exp_shift_sum(S + r * n, n, lse[r]);
  }
}

// Adds G (m×n) to the strided destination block at rows i0, cols j0; stride 0 dims accumulate.
template <typename T>
void add_block(const T* G, int64_t m, int64_t n, T* dst, int64_t st, int64_t sd, int64_t i0, int64_t j0) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) dst[(i0 + r) * st + (j0 + c) * sd] += G[r * n + c];
}

// Writes the contiguous rows×cols block G to rows [r0, r0+rows) of a strided operand.
template <typename T>
void store_rows(const T* G, int64_t rows, int64_t cols, T* dst, int64_t st, int64_t sd, int64_t r0) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[(r0 + r) * st + c * sd] = G[r * cols + c];
}

// Contribution of query block [i0, i0+m) × key block [j0, j0+n) of head (b, h).
template <typename T>
void backward_block(const AttentionArgs<T>& a, const AttentionGrads<T>& g, int64_t b, int64_t h,
                    Mat<T> q, Mat<T> k, Mat<T> v, Mat<T> dout, int64_t i0, int64_t m, int64_t j0,
                    int64_t n, BackwardScratch<T>& w) {
  T *P = w.P.data(), *dP = w.dP.data(), *Z = a.dropout_p > 0 ? w.Z.data() : nullptr;
  Mat<T> qi{q.row(i0), q.ld}, kj{k.row(j0), k.ld}, doi{dout.row(i0), dout.ld};
  attn::score_block(a, b, h, qi, kj, i0, m, j0, n, P);              // S (m,n)
  probabilities(P, g.lse + (b * a.H + h) * a.Tq + i0, m, n);       // P = exp(S − lse)
  if (Z) attn::dropout_scales(a, b, h, i0, m, j0, n, Z);
  if (g.dv) {
    const T* Pt = P;  // P̃: P after dropout
    if (Z) {
      std::copy(P, P + m * n, w.Pt.data());
      attn::mul_inplace(w.Pt.data(), Z, m * n);
      Pt = w.Pt.data();
    }
    attn::gemm<T>(true, false, n, a.Dv, m, T(1), Pt, n, doi.p, doi.ld, T(1), w.dv.data(), a.Dv);  // (n,m)@(m,Dv)
  }
  if (!needs_ds(g)) return;
  attn::gemm<T>(false, true, m, n, a.Dv, T(1), doi.p, doi.ld, v.row(j0), v.ld, T(0), dP, n);  // dP̃ (m,Dv)@(Dv,n)
  if (Z) attn::mul_inplace(dP, Z, m * n);                                                 // dP
  for (int64_t r = 0; r < m; ++r) attn::softmax_grad_row(dP + r * n, P + r * n, n, w.delta[i0 + r]);  // dS
  if (g.dbias) add_block(dP, m, n, attn::head(g.dbias, g.sdbias, b, h), g.sdbias.t, g.sdbias.d, i0, j0);
  if (g.dq)
    attn::gemm<T>(false, false, m, a.D, n, a.scale, dP, n, kj.p, kj.ld, T(1), w.dq.data() + i0 * a.D, a.D);  // (m,n)@(n,D)
  if (g.dk)
    attn::gemm<T>(true, false, n, a.D, m, a.scale, dP, n, qi.p, qi.ld, T(1), w.dk.data(), a.D);  // (n,m)@(m,D)
}

// All gradients of head (b, h): key blocks outside, query blocks inside.
template <typename T>
void backward_head(const AttentionArgs<T>& a, const AttentionGrads<T>& g, int64_t b, int64_t h,
                   BackwardScratch<T>& w) {
  Mat<T> q = attn::rows_view(attn::head(a.q, a.sq, b, h), a.sq.t, a.sq.d, 0, a.Tq, a.D, w.qbuf);
  Mat<T> k = attn::rows_view(attn::head(a.k, a.sk, b, h), a.sk.t, a.sk.d, 0, a.Tk, a.D, w.kbuf);
  Mat<T> dout = attn::rows_view(attn::head(g.dout, g.sdo, b, h), g.sdo.t, g.sdo.d, 0, a.Tq, a.Dv, w.dobuf);
  Mat<T> v{nullptr, 0};
  if (needs_ds(g)) {  // v and out serve only dS
    v = attn::rows_view(attn::head(a.v, a.sv, b, h), a.sv.t, a.sv.d, 0, a.Tk, a.Dv, w.vbuf);
    row_deltas(a, g, b, h, w.delta);
  }
  for (auto* buf : {&w.P, &w.Pt, &w.Z, &w.dP}) buf->resize(size_t(kBlockQ * kBlockK));
  if (g.dq) w.dq.assign(size_t(a.Tq * a.D), T(0));
  for (int64_t j0 = 0; j0 < a.Tk; j0 += kBlockK) {
    int64_t n = std::min(kBlockK, a.Tk - j0);
    if (g.dk) w.dk.assign(size_t(n * a.D), T(0));
    if (g.dv) w.dv.assign(size_t(n * a.Dv), T(0));
    for (int64_t i0 = 0; i0 < a.Tq; i0 += kBlockQ) {
      int64_t m = std::min(kBlockQ, a.Tq - i0);
      if (attn::block_visible(a, i0, m, j0)) backward_block(a, g, b, h, q, k, v, dout, i0, m, j0, n, w);
    }
    if (g.dk) store_rows(w.dk.data(), n, a.D, attn::head(g.dk, g.sdk, b, h), g.sdk.t, g.sdk.d, j0);
    if (g.dv) store_rows(w.dv.data(), n, a.Dv, attn::head(g.dv, g.sdv, b, h), g.sdv.t, g.sdv.d, j0);
  }
  if (g.dq) store_rows(w.dq.data(), a.Tq, a.D, attn::head(g.dq, g.sdq, b, h), g.sdq.t, g.sdq.d, 0);
}

// Zeroes the slice of dbias that head (b, h) accumulates into (shared with the heads that the
// broadcast sums over, which the same task visits).
template <typename T>
void zero_dbias(const AttentionArgs<T>& a, const AttentionGrads<T>& g, int64_t b, int64_t h) {
  T* d = attn::head(g.dbias, g.sdbias, b, h);
  int64_t rows = g.sdbias.t ? a.Tq : 1, cols = g.sdbias.d ? a.Tk : 1;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) d[r * g.sdbias.t + c * g.sdbias.d] = T(0);
}

}  // namespace

template <typename T>
void attention_backward(const AttentionArgs<T>& a, const AttentionGrads<T>& g) {
  cpu::SerialBlas serial;  // GEMMs run inside oneTBB tasks (policy in threading.h)
  // A task owns the (b, h) pairs that write the same dbias elements: all b when dbias is
  // broadcast over the batch, all h when over heads.
  bool b_shared = g.dbias && g.sdbias.b == 0, h_shared = g.dbias && g.sdbias.h == 0;
  int64_t nb = b_shared ? 1 : a.B, nh = h_shared ? 1 : a.H;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, nb * nh), [&](const auto& range) {
    BackwardScratch<T> w;
    for (int64_t t = range.begin(); t < range.end(); ++t) {
      int64_t b0 = t / nh, h0 = t % nh;
      if (g.dbias) zero_dbias(a, g, b0, h0);
      for (int64_t b = b0; b < (b_shared ? a.B : b0 + 1); ++b)
        for (int64_t h = h0; h < (h_shared ? a.H : h0 + 1); ++h) backward_head(a, g, b, h, w);
    }
  });
}

template void attention_backward<float>(const AttentionArgs<float>&, const AttentionGrads<float>&);
template void attention_backward<double>(const AttentionArgs<double>&, const AttentionGrads<double>&);

}  // namespace engine::cpu
