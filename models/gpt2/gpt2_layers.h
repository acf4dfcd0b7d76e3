// The GPT-2 blocks, named and nested exactly as HF's modeling_gpt2.py so parameter names match
// `named_parameters()`: h.{i}.ln_1, h.{i}.attn.{c_attn,c_proj}, h.{i}.ln_2,
// h.{i}.mlp.{c_fc,c_proj}. Every projection is a Conv1D (engine Linear with the [in,out]
// layout), reached through call("name") so PEFT can swap it.
#pragma once
#include "models/gpt2/gpt2_config.h"
#include "models/model.h"

namespace models::gpt2 {

// attn: c_attn -> split q,k,v -> causal attention (+ padding mask, prefix, KV cache) -> c_proj.
class GPT2Attention : public engine::nn::Module {
 public:
  GPT2Attention(const GPT2Config& c, int64_t layer_idx);
  std::string type_name() const override { return "GPT2Attention"; }
  // hidden [B,T,C]; key_mask [B,Tc+T] over the cached and new keys (nonzero = attend);
  // prefix K/V [B,H,P,D] or undefined; cache: this layer's K/V, used and extended, or null.
  Tensor forward(const Tensor& hidden, const Tensor& key_mask, const LayerKV& prefix, LayerKV* cache) const;

 private:
  int64_t num_heads_;
  double scale_;
};

// mlp: c_fc -> activation -> c_proj -> dropout.
class GPT2MLP : public engine::nn::Module {
 public:
  explicit GPT2MLP(const GPT2Config& c);
  std::string type_name() const override { return "GPT2MLP"; }
  Tensor forward(const Tensor& x) const;  // [B,T,C] -> [B,T,C]

 private:
  std::string act_;
};

// Pre-LN block: h + attn(ln_1(h)), then h + mlp(ln_2(h)); owns the hook sites.
class GPT2Block : public engine::nn::Module {
 public:
  GPT2Block(const GPT2Config& c, int64_t layer_idx);
  std::string type_name() const override { return "GPT2Block"; }
  Tensor forward(const Tensor& hidden, const Tensor& key_mask, const LayerKV& prefix, LayerKV* cache) const;
};

}  // namespace models::gpt2
