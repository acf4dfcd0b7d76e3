// T5Attention (transformers 4.33 modeling_t5.py): q/k/v/o projections without bias, inner
// dim num_heads·d_kv, no 1/√d scaling, and in the first layer of each stack the learned
// relative position bias (bucketed relative distances -> one scalar per head) that every
// layer of the stack then shares. Self-attention takes prefix K/V and a growing KV cache;
// cross-attention computes its K/V from the encoder output once per cache.
#pragma once
#include <memory>

#include "engine/nn/layers.h"
#include "models/model.h"
#include "models/t5/t5_config.h"

namespace models::t5 {

// HF's _relative_position_bucket for relative_position = key position − query position:
// half the buckets (bidirectional: per sign) hold exact distances below num_buckets/2, the
// rest log-spaced up to max_distance (computed in float32 steps, as torch does).
int64_t relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                 int64_t max_distance);

// Buckets [Tq, Tk] for queries at positions q_offset + i and keys at positions j.
Tensor relative_position_buckets(int64_t q_len, int64_t k_len, int64_t q_offset, bool bidirectional,
                                 int64_t num_buckets, int64_t max_distance);

struct T5AttentionArgs {
  Tensor key_value_states;  // cross-attention: encoder output [B,S,D]; undefined: self-attention
  Tensor mask;              // key padding mask [B,Tk] over the cached + new (or encoder) keys
  Tensor position_bias;     // [1,H,Tq,P+Tk] or undefined (cross-attention has none)
  LayerKV prefix;           // [B|1,H,P,d_kv] keys/values before every other key (prefix tuning)
  LayerKV* cache = nullptr;  // self: extended with this call's K/V; cross: filled once, then reused
  bool causal = false;
};

class T5Attention : public engine::nn::Module {
 public:
  T5Attention(const T5Config& c, bool is_decoder, bool has_relative_attention_bias);
  std::string type_name() const override { return "T5Attention"; }
  // hidden [B,T,D] -> [B,T,D]
  Tensor forward(const Tensor& hidden, const T5AttentionArgs& args) const;
  // The bias [1,H,Tq,Tk] for queries at positions q_offset.. and keys at 0..Tk-1 (T5Attention.
  // compute_bias with past_key_value's slicing); differentiable in relative_attention_bias.
  Tensor position_bias(int64_t q_len, int64_t k_len, int64_t q_offset) const;
  bool has_relative_attention_bias() const { return has_bias_; }

 private:
  bool is_decoder_, has_bias_;
  int64_t num_heads_, num_buckets_, max_distance_;
  // HF applies dropout_rate to the probabilities functionally (no module, no parameter name);
  // this unregistered Dropout only carries p and its own Philox stream.
  std::shared_ptr<engine::nn::Dropout> dropout_;
};

}  // namespace models::t5
