// The task heads on top of BertModel / RobertaModel, with HF's module names:
//   BertForSequenceClassification: bert (with pooler), dropout, classifier
//   RobertaForSequenceClassification: roberta (no pooler), classifier.{dense,dropout,out_proj}
//   *ForTokenClassification: base (no pooler), dropout, classifier
//   BertForMaskedLM: bert (no pooler), cls.predictions.{transform.{dense,LayerNorm},decoder,bias}
//   RobertaForMaskedLM: roberta (no pooler), lm_head.{dense,layer_norm,decoder,bias}
// The MLM decoder's weight is the word embedding (unless tie_word_embeddings is false) and its
// bias is the head's `bias`, both shared tensors as in HF.
#pragma once
#include "models/bert/bert_model.h"

namespace models::bert {

// Shared plumbing: the base model child and the PretrainedModel queries.
class BertHeadModel : public PretrainedModel {
 public:
  std::string model_type() const override { return c_.model_type; }
  std::string architecture() const override { return type_name(); }
  int64_t hidden_size() const override { return c_.hidden_size; }
  int64_t num_layers() const override { return c_.num_hidden_layers; }
  int64_t num_heads() const override { return c_.num_attention_heads; }
  int64_t head_dim() const override { return c_.head_dim(); }
  int64_t vocab_size() const override { return c_.vocab_size; }
  engine::nn::Embedding& input_embeddings() override { return base().input_embeddings(); }
  std::string base_prefix() const override { return c_.model_type + "."; }
  // Head parameters (and the pooler) are initialised when a base checkpoint lacks them.
  bool may_be_missing(const std::string& key) const override;
  bool may_be_unexpected(const std::string& key) const override { return is_foreign_bert_key(key, pooler_); }

 protected:
  BertHeadModel(const BertConfig& c, const nlohmann::json& config, bool pooler);
  void register_base();
  BertModel& base() const;
  ModelOutput run_base(const Batch& batch, const ForwardOptions& options) const;
  std::string family() const { return c_.is_roberta() ? "Roberta" : "Bert"; }
  BertConfig c_;
  bool pooler_;
};

class BertForSequenceClassification : public BertHeadModel {
 public:
  BertForSequenceClassification(const BertConfig& c, const nlohmann::json& config);
  std::string type_name() const override { return family() + "ForSequenceClassification"; }
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
};

class BertForTokenClassification : public BertHeadModel {
 public:
  BertForTokenClassification(const BertConfig& c, const nlohmann::json& config);
  std::string type_name() const override { return family() + "ForTokenClassification"; }
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
};

class BertForMaskedLM : public BertHeadModel {
 public:
  BertForMaskedLM(const BertConfig& c, const nlohmann::json& config);
  std::string type_name() const override { return family() + "ForMaskedLM"; }
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
  std::vector<std::pair<std::string, std::string>> tied_weights() const override;

 private:
  std::string head_;  // "cls.predictions" or "lm_head"
  bool tied_;
};

}  // namespace models::bert
