// Scaled dot-product attention as one primitive on the fused CPU kernel
// (engine/backend/cpu/attention.h): the Tq×Tk probabilities are never stored, in the forward
// or for backward. One op serves BERT (padding mask), GPT-2 (causal, KV cache), T5 (scale 1,
// trainable relative-position bias) and prefix tuning (learned keys/values prepended).
#pragma once
#include <cstdint>
#include <optional>

#include "engine/core/tensor.h"

namespace engine {

struct AttentionOptions {
  Tensor mask;  // optional key padding mask [B,Tk] or [1,Tk], nonzero = attend (any dtype)
  Tensor bias;  // optional additive bias broadcastable to [B,H,Tq,P+Tk]; gets a gradient
  bool causal = false;
  // Causal alignment: query i sees key j iff j <= i + q_offset. Default: the queries are the
  // last Tq positions of the P+Tk keys (q_offset = P+Tk−Tq), right for KV caches and prefixes.
  std::optional<int64_t> q_offset;
  std::optional<double> scale;  // default 1/√D (T5 passes 1)
  double dropout_p = 0;         // on the probabilities; pass 0 in eval mode
  Generator* generator = nullptr;  // the dropout mask's Philox stream; default_generator() if null
  // Prefix tuning: P learned keys/values [B or 1, H, P, D(v)] prepended to k and v. The mask
  // covers only k's keys (prefix keys are always attended); the bias spans all P+Tk keys.
  Tensor prefix_k, prefix_v;
};

// q [B,H,Tq,D], k [B,H,Tk,D], v [B,H,Tk,Dv] (any strides: permuted or sliced views are read in
// place) -> [B,H,Tq,Dv]. Differentiable in q, k, v, bias, prefix_k and prefix_v; the backward
// computes only the gradients that are needed. A query that sees no key gets zeros.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});

}  // namespace engine
