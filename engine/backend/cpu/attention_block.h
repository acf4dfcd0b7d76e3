// Building blocks shared by the fused attention forward and backward kernels: BLAS wrappers on
// row-major blocks, zero-copy (or packed) views of one head's rows, the score block with bias and
// masks, and the Philox dropout mask. Forward and backward call the same score_block so that the
// probabilities the backward pass recomputes are bit-identical to the forward's.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/backend/cpu/attention.h"
#include "engine/core/philox.h"

namespace engine::cpu::attn {

inline constexpr int64_t kBlockQ = 64;  // query rows per block
inline constexpr int64_t kBlockK = 64;  // keys per block

template <typename T>
inline constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// C = alpha · op(A) · op(B) + beta · C on row-major matrices; C is m×n.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(T) == 4)
    cblas_sgemm(CblasRowMajor, opa, opb, int(m), int(n), int(k), alpha, A, int(lda), B, int(ldb),
                beta, C, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, opa, opb, int(m), int(n), int(k), alpha, A, int(lda), B, int(ldb),
                beta, C, int(ldc));
}

// A row-major matrix view with unit column stride: element (r, c) at p[r·ld + c].
template <typename T>
struct Mat {
  const T* p;
  int64_t ld;
  const T* row(int64_t r) const { return p + r * ld; }
};

// Rows [r0, r0+n) × cols [0, d) of a strided operand (row stride st, col stride sd). Returned
// in place when BLAS can read it directly; otherwise packed into `buf`.
template <typename T>
Mat<T> rows_view(const T* base, int64_t st, int64_t sd, int64_t r0, int64_t n, int64_t d,
                 std::vector<T>& buf) {
  if (sd == 1 && st >= d) return {base + r0 * st, st};
  buf.resize(size_t(n * d));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < d; ++c) buf[r * d + c] = base[(r0 + r) * st + c * sd];
  return {buf.data(), std::max<int64_t>(d, 1)};
}

// Base pointer of head (b, h) in a strided operand.
template <typename T>
T* head(T* p, const Strides4& s, int64_t b, int64_t h) {
  return p + b * s.b + h * s.h;
}

// Does head (b,h)'s query block starting at i0 (m rows) see any key of the block starting at j0?
template <typename T>
bool block_visible(const AttentionArgs<T>& a, int64_t i0, int64_t m, int64_t j0) {
  return !a.causal || j0 <= i0 + m - 1 + a.q_offset;
}

// S (m×n, ld n) = scale · Q[i0:i0+m] K[j0:j0+n]ᵀ + bias, with −inf where a key is padded or
// lies in a query's causal future. q and k are the head's views (rows from i0 / j0).
template <typename T>
void score_block(const AttentionArgs<T>& a, int64_t b, int64_t h, Mat<T> q, Mat<T> k, int64_t i0,
                 int64_t m, int64_t j0, int64_t n, T* S) {
  gemm<T>(false, true, m, n, a.D, a.scale, q.p, q.ld, k.p, k.ld, T(0), S, n);  // (m,D)@(D,n)
  if (a.bias) {
    const T* bias = head(a.bias, a.sbias, b, h);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) S[r * n + c] += bias[(i0 + r) * a.sbias.t + (j0 + c) * a.sbias.d];
  }
  if (a.key_mask) {
    const uint8_t* mask = a.key_mask + b * a.mask_sb;
    for (int64_t c = 0; c < n; ++c)
      if (!mask[(j0 + c) * a.mask_st])
        for (int64_t r = 0; r < m; ++r) S[r * n + c] = kNegInf<T>;
  }
  if (a.causal)
    for (int64_t r = 0; r < m; ++r) {
      int64_t first_hidden = std::max<int64_t>(i0 + r + a.q_offset + 1 - j0, 0);
      for (int64_t c = first_hidden; c < n; ++c) S[r * n + c] = kNegInf<T>;
    }
}

// Z (m×n) = keep(b,h,i0+r,j0+c)/(1−p), the dropout mask scaled by 1/(1−p). Regenerated from the
// Philox counter, so the backward pass sees exactly the forward's mask.
template <typename T>
void dropout_scales(const AttentionArgs<T>& a, int64_t b, int64_t h, int64_t i0, int64_t m,
                    int64_t j0, int64_t n, T* Z) {
  const T keep_scale = T(1) / (T(1) - T(a.dropout_p));
  for (int64_t r = 0; r < m; ++r) {
    uint64_t row = a.offset + uint64_t(((b * a.H + h) * a.Tq + i0 + r) * a.Tk + j0);
    for (int64_t c = 0; c < n; ++c)
      Z[r * n + c] = engine::philox_uniform(a.seed, row + uint64_t(c)) >= a.dropout_p ? keep_scale : T(0);
  }
}

// x[e] *= y[e] for e < len.
template <typename T>
void mul_inplace(T* x, const T* y, int64_t len) {
  for (int64_t e = 0; e < len; ++e) x[e] *= y[e];
}

}  // namespace engine::cpu::attn
