// T5 block sub-layers (see t5_layers.h). Children are always reached through call("name")
// so PEFT can swap any Linear for a wrapper.
#include "models/t5/t5_layers.h"

#include "engine/engine.h"
#include "models/common/fused_activation.h"
#include "models/common/init.h"
#include "models/common/module_list.h"

namespace models::t5 {
using engine::nn::Linear;

T5DenseActDense::T5DenseActDense(const T5Config& c) : gated_(c.is_gated_act), act_(c.dense_act_fn) {
  if (gated_) {
    register_module("wi_0", std::make_shared<Linear>(c.d_model, c.d_ff, false));
    register_module("wi_1", std::make_shared<Linear>(c.d_model, c.d_ff, false));
  } else {
    register_module("wi", std::make_shared<Linear>(c.d_model, c.d_ff, false));
  }
  register_module("wo", std::make_shared<Linear>(c.d_ff, c.d_model, false));
  register_module("dropout", common::make_dropout(c.dropout_rate));
}

Tensor T5DenseActDense::forward(const Tensor& x) {
  // The projection + activation fuse where they can (models/common/fused_activation.h).
  Tensor h = gated_ ? common::call_with_activation(*this, "wi_0", act_, x) * call("wi_1", x)  // [B,T,F]
                    : common::call_with_activation(*this, "wi", act_, x);
  return call("wo", call("dropout", h));  // [B,T,F] -> [B,T,D]
}

T5LayerFF::T5LayerFF(const T5Config& c) {
  register_module("DenseReluDense", std::make_shared<T5DenseActDense>(c));
  register_module("layer_norm", std::make_shared<T5LayerNorm>(c.d_model, c.layer_norm_epsilon));
  register_module("dropout", common::make_dropout(c.dropout_rate));
}

Tensor T5LayerFF::forward(const Tensor& x) const {
  Tensor h = call("dropout", call("DenseReluDense", call("layer_norm", x)));  // [B,T,D]
  h = site(kSiteAfterFFN, h);
  h = site(kSiteParallelFFN, h, x);
  return x + h;
}

T5LayerAttention::T5LayerAttention(const T5Config& c, bool is_decoder, bool cross, bool has_relative_attention_bias)
    : cross_(cross) {
  register_module(cross ? "EncDecAttention" : "SelfAttention",
                  std::make_shared<T5Attention>(c, is_decoder, has_relative_attention_bias));
  register_module("layer_norm", std::make_shared<T5LayerNorm>(c.d_model, c.layer_norm_epsilon));
  register_module("dropout", common::make_dropout(c.dropout_rate));
}

std::shared_ptr<T5Attention> T5LayerAttention::attention() const {
  auto a = child_as<T5Attention>(cross_ ? "EncDecAttention" : "SelfAttention");
  engine::check<engine::ValueError>(a != nullptr, "[", type_name(), "] its attention is no longer a T5Attention");
  return a;
}

Tensor T5LayerAttention::forward(const Tensor& x, const T5AttentionArgs& args) const {
  Tensor h = attention()->forward(call("layer_norm", x), args);  // [B,T,D]
  h = site(kSiteAfterAttention, call("dropout", h));
  return x + h;
}

T5Block::T5Block(const T5Config& c, bool is_decoder, bool has_relative_attention_bias) : is_decoder_(is_decoder) {
  auto layers = std::make_shared<common::ModuleList>();
  layers->append(std::make_shared<T5LayerAttention>(c, is_decoder, false, has_relative_attention_bias));
  // HF's cross-attention never has a relative bias (T5LayerCrossAttention passes False).
  if (is_decoder) layers->append(std::make_shared<T5LayerAttention>(c, true, true, false));
  layers->append(std::make_shared<T5LayerFF>(c));
  register_module("layer", layers);
}

Tensor T5Block::forward(const Tensor& x, const T5BlockArgs& args) const {
  auto layers = child_as<common::ModuleList>("layer");
  Tensor h = layers->at<T5LayerAttention>(0)->forward(x, args.self_attn);
  if (is_decoder_) h = layers->at<T5LayerAttention>(1)->forward(h, args.cross_attn);
  return layers->at<T5LayerFF>(is_decoder_ ? 2 : 1)->forward(h);
}

}  // namespace models::t5
