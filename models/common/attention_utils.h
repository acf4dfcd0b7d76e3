// Small helpers every attention in models/ shares: splitting the hidden dim into heads and
// back, the prefix / cache length that shifts positions, and the key padding mask.
#pragma once
#include "models/model.h"

namespace models::common {

// x [B,T,H*D] -> [B,H,T,D] as a strided view (the attention op reads it in place).
Tensor split_heads(const Tensor& x, int64_t num_heads);
// x [B,H,T,D] -> [B,T,H*D] (one copy: the permuted layout cannot be viewed flat).
Tensor merge_heads(const Tensor& x);

// Positions already seen before this call's tokens: the KV cache's length plus the prefix
// length (prefix tuning's virtual tokens count as earlier positions, as in peft).
int64_t past_length(const ForwardOptions& options);

// The key padding mask for T real keys: the batch's attention_mask, or all ones [B,T] when
// absent (HF's default). Prefix keys are not included: the attention op always attends them.
Tensor key_padding_mask(const Tensor& attention_mask, int64_t batch, int64_t length,
                        engine::Device device = engine::Device::cpu());

// The prefix K/V for self-attention layer `layer` (undefined tensors when there is none),
// checked against the expected [B or 1, H, P, D] shape so a wrong adapter fails by name.
LayerKV layer_prefix(const ForwardOptions& options, int64_t layer, int64_t num_heads, int64_t head_dim);

}  // namespace models::common
