// Output heads that are modules of their own in HF: BERT's MLM prediction head
// (cls.predictions) and RoBERTa's lm_head and classification head.
#pragma once
#include "models/bert/bert_config.h"
#include "models/model.h"

namespace models::bert {

// cls.predictions.transform: dense -> hidden_act -> LayerNorm.
class BertPredictionHeadTransform : public engine::nn::UnaryModule {
 public:
  explicit BertPredictionHeadTransform(const BertConfig& c);
  std::string type_name() const override { return "BertPredictionHeadTransform"; }
  Tensor forward(const Tensor& x) override;

 private:
  std::string act_;
};

// An MLM head: decoder(transform(x)) with the decoder's bias being the head's own `bias`
// (HF: `self.decoder.bias = self.bias`). BERT nests the transform (cls.predictions.transform),
// RoBERTa keeps dense / layer_norm flat and always uses erf-gelu (modeling_roberta.py RobertaLMHead).
class MaskedLMHead : public engine::nn::UnaryModule {
 public:
  explicit MaskedLMHead(const BertConfig& c);
  std::string type_name() const override { return roberta_ ? "RobertaLMHead" : "BertLMPredictionHead"; }
  Tensor forward(const Tensor& x) override;  // [B,T,C] -> [B,T,V]

 private:
  bool roberta_;
};

// BertForMaskedLM's `cls` (BertOnlyMLMHead): holds `predictions`.
class BertOnlyMLMHead : public engine::nn::UnaryModule {
 public:
  explicit BertOnlyMLMHead(const BertConfig& c);
  std::string type_name() const override { return "BertOnlyMLMHead"; }
  Tensor forward(const Tensor& x) override { return call("predictions", x); }
};

// RobertaForSequenceClassification's `classifier`: features[:, 0] -> dropout -> dense ->
// tanh -> dropout -> out_proj.
class RobertaClassificationHead : public engine::nn::UnaryModule {
 public:
  explicit RobertaClassificationHead(const BertConfig& c);
  std::string type_name() const override { return "RobertaClassificationHead"; }
  Tensor forward(const Tensor& hidden) override;  // [B,T,C] -> [B,num_labels]
};

}  // namespace models::bert
