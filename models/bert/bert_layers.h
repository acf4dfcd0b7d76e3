// The BERT encoder's modules, named and nested exactly as HF's modeling_bert.py so parameter
// names match `named_parameters()`: encoder.layer.{i}.attention.self.{query,key,value},
// attention.output.{dense,LayerNorm}, intermediate.dense, output.{dense,LayerNorm}.
// RoBERTa uses the same classes (modeling_roberta.py copies them).
#pragma once
#include <memory>

#include "models/bert/bert_config.h"
#include "models/model.h"

namespace models::bert {

// attention.self: Q/K/V projections and the fused attention (dropout on the probabilities).
class BertSelfAttention : public engine::nn::Module {
 public:
  explicit BertSelfAttention(const BertConfig& c);
  std::string type_name() const override { return "BertSelfAttention"; }
  // hidden [B,T,C], mask [B,T] (nonzero = attend), prefix K/V [B,H,P,D] or undefined.
  Tensor forward(const Tensor& hidden, const Tensor& mask, const LayerKV& prefix) const;

 private:
  int64_t num_heads_;
};

// attention.output / output: dense -> dropout -> (hook site on the block) -> LayerNorm(x + residual).
class BertResidualOutput : public engine::nn::Module {
 public:
  BertResidualOutput(const BertConfig& c, int64_t in_features, std::string type);
  std::string type_name() const override { return type_; }
  // `block` owns the hook sites; `site_input` is what the parallel-FFN site receives (the
  // FFN's input), undefined for the attention output.
  Tensor forward(const Tensor& x, const Tensor& residual, const engine::nn::Module& block,
                 const Tensor& site_input) const;

 private:
  std::string type_;
};

class BertAttention : public engine::nn::Module {
 public:
  explicit BertAttention(const BertConfig& c);
  std::string type_name() const override { return "BertAttention"; }
  Tensor forward(const Tensor& hidden, const Tensor& mask, const LayerKV& prefix,
                 const engine::nn::Module& block) const;
};

// intermediate: dense -> activation (config.hidden_act).
class BertIntermediate : public engine::nn::Module {
 public:
  explicit BertIntermediate(const BertConfig& c);
  std::string type_name() const override { return "BertIntermediate"; }
  Tensor forward(const Tensor& x) const;

 private:
  std::string act_;
};

// One transformer block; owns the hook sites (after_attention, after_ffn, parallel_ffn).
class BertLayer : public engine::nn::Module {
 public:
  explicit BertLayer(const BertConfig& c);
  std::string type_name() const override { return "BertLayer"; }
  Tensor forward(const Tensor& hidden, const Tensor& mask, const LayerKV& prefix) const;
};

class BertEncoder : public engine::nn::Module {
 public:
  explicit BertEncoder(const BertConfig& c);
  std::string type_name() const override { return "BertEncoder"; }
  // Appends each layer's output to `hidden_states` when non-null; returns the last one.
  Tensor forward(const Tensor& hidden, const Tensor& mask, const ForwardOptions& options,
                 std::vector<Tensor>* hidden_states) const;

 private:
  int64_t num_layers_, num_heads_, head_dim_;
};

}  // namespace models::bert
