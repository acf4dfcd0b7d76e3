// Fused attention forward: one task per (batch, head, block of queries) walks the keys in blocks
// with an online softmax (running max m, running sum l, rescaled accumulator), so only O(block)
// scores are ever alive. Saves out and the row log-sum-exp for the backward pass.
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

// Per-task scratch, reused across the blocks of one task.
template <typename T>
struct ForwardScratch {
  std::vector<T> qbuf, kbuf, vbuf, S, Z, acc, m, l;
};

// Softmax step for one score block: turns S (m×n) into exp(S − new max) in place, rescales the
// running sums and the accumulator rows by exp(old max − new max). A row whose entries are all
// −inf so far keeps max −inf and contributes zeros (no inf − inf).
template <typename T>
void online_softmax_step(int64_t rows, int64_t n, int64_t dv, T* S, T* mrow, T* lrow, T* acc) {
  for (int64_t r = 0; r < rows; ++r) {
    T* s = S + r * n;
    T mnew = std::max(mrow[r], attn::row_max(s, n));
    if (mnew == kNegInf<T>) {
      std::fill(s, s + n, T(0));
      continue;
    }
    T corr = std::exp(mrow[r] - mnew);
    lrow[r] = lrow[r] * corr + attn::exp_shift_sum(s, n, mnew);
    mrow[r] = mnew;
    if (corr != T(1))
      for (int64_t c = 0; c < dv; ++c) acc[r * dv + c] *= corr;
  }
}

// Queries [i0, i0+m) of head (b, h).
template <typename T>
void forward_block(const AttentionArgs<T>& a, int64_t b, int64_t h, int64_t i0, int64_t m, T* out,
                   Strides4 so, T* lse, ForwardScratch<T>& w) {
  const T* qh = attn::head(a.q, a.sq, b, h);
  const T* kh = attn::head(a.k, a.sk, b, h);
  const T* vh = attn::head(a.v, a.sv, b, h);
  Mat<T> q = attn::rows_view(qh, a.sq.t, a.sq.d, i0, m, a.D, w.qbuf);  // (m,D)
  w.S.resize(size_t(m * kBlockK));
  if (a.dropout_p > 0) w.Z.resize(w.S.size());
  w.acc.assign(size_t(m * a.Dv), T(0));  // (m,Dv)
  w.m.assign(size_t(m), kNegInf<T>);
  w.l.assign(size_t(m), T(0));
  for (int64_t j0 = 0; j0 < a.Tk && attn::block_visible(a, i0, m, j0); j0 += kBlockK) {
    int64_t n = std::min(kBlockK, a.Tk - j0);
    Mat<T> k = attn::rows_view(kh, a.sk.t, a.sk.d, j0, n, a.D, w.kbuf);   // (n,D)
    Mat<T> v = attn::rows_view(vh, a.sv.t, a.sv.d, j0, n, a.Dv, w.vbuf);  // (n,Dv)
    attn::score_block(a, b, h, q, k, i0, m, j0, n, w.S.data());          // (m,n)
    online_softmax_step(m, n, a.Dv, w.S.data(), w.m.data(), w.l.data(), w.acc.data());
    if (a.dropout_p > 0) {
      attn::dropout_scales(a, b, h, i0, m, j0, n, w.Z.data());
      attn::mul_inplace(w.S.data(), w.Z.data(), m * n);
    }
    attn::gemm<T>(false, false, m, a.Dv, n, T(1), w.S.data(), n, v.p, v.ld, T(1), w.acc.data(),
                  a.Dv);  // (m,n)@(n,Dv)
  }
  T* oh = attn::head(out, so, b, h);
  T* lh = lse + (b * a.H + h) * a.Tq;
  for (int64_t r = 0; r < m; ++r) {
    bool empty = w.l[r] == T(0);  // saw no key: zeros, not NaN
    T inv = empty ? T(0) : T(1) / w.l[r];
    for (int64_t c = 0; c < a.Dv; ++c) oh[(i0 + r) * so.t + c * so.d] = w.acc[r * a.Dv + c] * inv;
    lh[i0 + r] = empty ? kNegInf<T> : w.m[r] + std::log(w.l[r]);
  }
}

}  // namespace

template <typename T>
void attention_forward(const AttentionArgs<T>& a, T* out, Strides4 so, T* lse) {
  cpu::SerialBlas serial;  // GEMMs run inside oneTBB tasks (policy in threading.h)
  const int64_t nqb = (a.Tq + kBlockQ - 1) / kBlockQ;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, a.B * a.H * nqb), [&](const auto& range) {
    ForwardScratch<T> w;
    for (int64_t t = range.begin(); t < range.end(); ++t) {
      int64_t bh = t / nqb, i0 = (t % nqb) * kBlockQ;
      forward_block(a, bh / a.H, bh % a.H, i0, std::min(kBlockQ, a.Tq - i0), out, so, lse, w);
    }
  });
}

template void attention_forward<float>(const AttentionArgs<float>&, float*, Strides4, float*);
template void attention_forward<double>(const AttentionArgs<double>&, double*, Strides4, double*);

}  // namespace engine::cpu
