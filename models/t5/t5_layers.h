// The sub-layers of a T5 block, named as HF's modeling_t5.py so parameter names match
// `named_parameters()`: block.{i}.layer.0 = T5LayerSelfAttention (SelfAttention, layer_norm),
// decoder layer.1 = T5LayerCrossAttention (EncDecAttention, layer_norm), last layer =
// T5LayerFF (DenseReluDense.{wi | wi_0, wi_1, wo}, layer_norm). Every sub-layer is pre-norm
// with a residual add, and owns the hook sites of its output (before the residual add).
#pragma once
#include <memory>

#include "models/model.h"
#include "models/t5/t5_attention.h"
#include "models/t5/t5_config.h"

namespace models::t5 {

// T5LayerNorm: RMS norm with a weight, no bias and no mean subtraction.
class T5LayerNorm : public engine::nn::RMSNorm {
 public:
  T5LayerNorm(int64_t dim, double eps) : engine::nn::RMSNorm(dim, eps) {}
  std::string type_name() const override { return "T5LayerNorm"; }
};

// T5DenseActDense (wi -> act -> dropout -> wo) or, for "gated-<act>",
// T5DenseGatedActDense (act(wi_0 x) * wi_1 x -> dropout -> wo).
class T5DenseActDense : public engine::nn::UnaryModule {
 public:
  explicit T5DenseActDense(const T5Config& c);
  std::string type_name() const override { return gated_ ? "T5DenseGatedActDense" : "T5DenseActDense"; }
  Tensor forward(const Tensor& x) override;  // [B,T,D] -> [B,T,D]

 private:
  bool gated_;
  std::string act_;
};

// x + dropout(FFN(layer_norm(x))); sites after_ffn and parallel_ffn (whose input is x, the
// residual stream entering the sub-layer, as adapter-hub's residual_input).
class T5LayerFF : public engine::nn::Module {
 public:
  explicit T5LayerFF(const T5Config& c);
  std::string type_name() const override { return "T5LayerFF"; }
  Tensor forward(const Tensor& x) const;
};

// x + dropout(attention(layer_norm(x))); site after_attention. The self- and cross-attention
// sub-layers differ only in their child's name (SelfAttention / EncDecAttention).
class T5LayerAttention : public engine::nn::Module {
 public:
  T5LayerAttention(const T5Config& c, bool is_decoder, bool cross, bool has_relative_attention_bias);
  std::string type_name() const override { return cross_ ? "T5LayerCrossAttention" : "T5LayerSelfAttention"; }
  Tensor forward(const Tensor& x, const T5AttentionArgs& args) const;
  std::shared_ptr<T5Attention> attention() const;

 private:
  bool cross_;
};

// Everything one block call needs besides its input.
struct T5BlockArgs {
  T5AttentionArgs self_attn;   // mask, shared position bias, prefix, self cache
  T5AttentionArgs cross_attn;  // encoder output and mask, cross cache (decoder only)
};

// T5Block: `layer` = [self-attention, (cross-attention,) feed-forward].
class T5Block : public engine::nn::Module {
 public:
  T5Block(const T5Config& c, bool is_decoder, bool has_relative_attention_bias);
  std::string type_name() const override { return "T5Block"; }
  Tensor forward(const Tensor& x, const T5BlockArgs& args) const;

 private:
  bool is_decoder_;
};

}  // namespace models::t5
