// GPT-2 attention, MLP and block (see gpt2_layers.h); transformers 4.33 modeling_gpt2.py.
#include "models/gpt2/gpt2_layers.h"

#include <cmath>

#include "engine/engine.h"
#include "engine/ops/attention.h"
#include "models/common/attention_utils.h"
#include "models/common/fused_activation.h"
#include "models/common/init.h"

namespace models::gpt2 {
using engine::WeightLayout;
using engine::nn::Dropout;
using engine::nn::LayerNorm;
using engine::nn::Linear;

namespace {

std::shared_ptr<Linear> conv1d(int64_t in, int64_t out) {
  return std::make_shared<Linear>(in, out, /*bias=*/true, WeightLayout::in_out);
}

}  // namespace

GPT2Attention::GPT2Attention(const GPT2Config& c, int64_t layer_idx) : num_heads_(c.n_head) {
  register_module("c_attn", conv1d(c.n_embd, 3 * c.n_embd));
  register_module("c_proj", conv1d(c.n_embd, c.n_embd));
  register_module("attn_dropout", common::make_dropout(c.attn_pdrop));
  register_module("resid_dropout", common::make_dropout(c.resid_pdrop));
  // GPT2Attention._attn: divide by sqrt(head_dim) if scale_attn_weights, and by layer_idx + 1
  // if scale_attn_by_inverse_layer_idx.
  scale_ = c.scale_attn_weights ? 1.0 / std::sqrt(double(c.head_dim())) : 1.0;
  if (c.scale_attn_by_inverse_layer_idx) scale_ /= double(layer_idx + 1);
}

Tensor GPT2Attention::forward(const Tensor& hidden, const Tensor& key_mask, const LayerKV& prefix,
                              LayerKV* cache) const {
  const int64_t C = hidden.size(2);
  Tensor qkv = call("c_attn", hidden);                                  // [B,T,C] @ [C,3C] -> [B,T,3C]
  Tensor q = common::split_heads(qkv.narrow(2, 0, C), num_heads_);      // [B,H,T,D] views of qkv
  Tensor k = common::split_heads(qkv.narrow(2, C, C), num_heads_);
  Tensor v = common::split_heads(qkv.narrow(2, 2 * C, C), num_heads_);
  if (cache) {  // HF's layer_past: cached keys come before the new ones
    if (cache->k.defined()) {
      k = engine::concat({cache->k, k}, 2);  // [B,H,Tc+T,D]
      v = engine::concat({cache->v, v}, 2);
    }
    cache->k = k, cache->v = v;
  }
  auto dropout = child_as<Dropout>("attn_dropout");
  engine::AttentionOptions opt;
  opt.causal = true;  // queries are the last T positions of prefix + cache + new keys
  opt.mask = key_mask;
  opt.prefix_k = prefix.k, opt.prefix_v = prefix.v;
  opt.scale = scale_;
  opt.dropout_p = is_training() ? dropout->p() : 0.0;
  opt.generator = &dropout->generator();
  Tensor context = common::merge_heads(engine::scaled_dot_product_attention(q, k, v, opt));  // [B,T,C]
  return call("resid_dropout", call("c_proj", context));
}

GPT2MLP::GPT2MLP(const GPT2Config& c) : act_(c.activation_function) {
  register_module("c_fc", conv1d(c.n_embd, c.n_inner));
  register_module("c_proj", conv1d(c.n_inner, c.n_embd));
  register_module("dropout", common::make_dropout(c.resid_pdrop));
}

// c_fc + a tanh GELU run as one fused op where they can (models/common/fused_activation.h).
Tensor GPT2MLP::forward(const Tensor& x) const {
  Tensor inner = common::call_with_activation(*this, "c_fc", act_, x);  // [B,T,C] -> [B,T,I]
  return call("dropout", call("c_proj", inner));                          // [B,T,I] -> [B,T,C]
}

GPT2Block::GPT2Block(const GPT2Config& c, int64_t layer_idx) {
  register_module("ln_1", std::make_shared<LayerNorm>(c.n_embd, c.layer_norm_epsilon));
  register_module("attn", std::make_shared<GPT2Attention>(c, layer_idx));
  register_module("ln_2", std::make_shared<LayerNorm>(c.n_embd, c.layer_norm_epsilon));
  register_module("mlp", std::make_shared<GPT2MLP>(c));
}

Tensor GPT2Block::forward(const Tensor& hidden, const Tensor& key_mask, const LayerKV& prefix,
                          LayerKV* cache) const {
  Tensor attn = child_as<GPT2Attention>("attn")->forward(call("ln_1", hidden), key_mask, prefix, cache);
  attn = site(kSiteAfterAttention, attn);  // [B,T,C], before the residual add
  Tensor h = hidden + attn;
  Tensor ffn_in = call("ln_2", h);
  Tensor ffn = child_as<GPT2MLP>("mlp")->forward(ffn_in);
  ffn = site(kSiteAfterFFN, ffn);
  ffn = site(kSiteParallelFFN, ffn, ffn_in);  // a parallel adapter sees the FFN's (normed) input
  return h + ffn;
}

}  // namespace models::gpt2
