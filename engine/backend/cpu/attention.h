// Fused, memory-efficient scaled dot-product attention on the CPU (flash-attention style).
//
//   S = scale · Q Kᵀ + bias   (masked entries = −inf)      P = softmax_rows(S)
//   out = dropout(P) V                                     lse = log Σ_j exp(S_ij)
//
// The Tq×Tk matrices S and P are never stored: the forward pass walks the keys in blocks with
// an online softmax and keeps only `out` and the per-row log-sum-exp; the backward pass
// recomputes each block of P from `lse` (flash-attention-2: delta = rowsum(dO ⊙ O),
// dS = P ⊙ (dP − delta)). Memory beyond inputs and outputs is O(block · (Tk + D)) per task.
//
// Every tensor is passed as a raw pointer plus element strides for its four dims, so views
// (q/k/v sliced out of a fused [B,T,3,H,D] projection, [B,T,H,D] permuted to [B,H,T,D], a bias
// broadcast with stride 0) need no copy. Results are bit-identical for any number of threads.
// Call from the thread that runs ops, not from inside a oneTBB task: the kernels parallelise
// with oneTBB themselves and hold a cpu::SerialBlas scope for their per-block GEMMs.
#pragma once
#include <cstdint>

namespace engine::cpu {

// Element strides of a 4-d operand, outermost first. A broadcast dim has stride 0.
struct Strides4 {
  int64_t b = 0, h = 0, t = 0, d = 0;
};

// Everything the forward pass reads; the backward pass reads the same description.
template <typename T>
struct AttentionArgs {
  int64_t B = 1, H = 1, Tq = 0, Tk = 0, D = 0, Dv = 0;
  const T* q = nullptr;  // [B,H,Tq,D]
  Strides4 sq;
  const T* k = nullptr;  // [B,H,Tk,D]
  Strides4 sk;
  const T* v = nullptr;  // [B,H,Tk,Dv]
  Strides4 sv;
  T scale = T(1);  // 1/√D for BERT/GPT-2, 1 for T5

  const T* bias = nullptr;  // optional additive bias broadcast to [B,H,Tq,Tk] (t = query, d = key)
  Strides4 sbias;

  const uint8_t* key_mask = nullptr;  // optional [B,Tk], nonzero = attend
  int64_t mask_sb = 0, mask_st = 1;

  bool causal = false;   // query i sees key j iff j <= i + q_offset
  int64_t q_offset = 0;  // Tk − Tq for a KV cache or a prefix of Tk − Tq keys

  float dropout_p = 0.f;  // on the probabilities; kept values are scaled by 1/(1−p)
  uint64_t seed = 0;      // keep(b,h,i,j) = philox_uniform(seed, offset + ((b·H+h)·Tq+i)·Tk+j) >= p
  uint64_t offset = 0;    // advance by B·H·Tq·Tk per call so calls draw fresh masks
};

// out [B,H,Tq,Dv] (strides so), lse [B,H,Tq] contiguous. A query row that sees no key
// (fully masked) gets out = 0 and lse = −inf.
template <typename T>
void attention_forward(const AttentionArgs<T>& a, T* out, Strides4 so, T* lse);

// Gradients of the forward pass, given its out/lse and dOut. Each of dq [B,H,Tq,D],
// dk [B,H,Tk,D], dv [B,H,Tk,Dv] may be null (then it costs nothing) and is overwritten.
// When only dv is requested, a.v and out are not read (they may be null).
// dbias (nullable) has the bias's broadcast shape, described by `sdbias` with 0 in the
// broadcast dims (b, h, t or d); it is overwritten with dS summed over those dims in a fixed
// order. dbias may be requested without a forward bias (e.g. a bias that was all zeros).
template <typename T>
struct AttentionGrads {
  const T* out = nullptr;
  Strides4 so;
  const T* lse = nullptr;
  const T* dout = nullptr;
  Strides4 sdo;
  T* dq = nullptr;
  Strides4 sdq;
  T* dk = nullptr;
  Strides4 sdk;
  T* dv = nullptr;
  Strides4 sdv;
  T* dbias = nullptr;
  Strides4 sdbias;
};

template <typename T>
void attention_backward(const AttentionArgs<T>& a, const AttentionGrads<T>& g);

// Contiguous row-major strides of a [n0,n1,n2,n3] tensor (a convenience for callers/tests).
inline Strides4 contiguous_strides(int64_t n1, int64_t n2, int64_t n3) {
  return {n1 * n2 * n3, n2 * n3, n3, 1};
}

}  // namespace engine::cpu
