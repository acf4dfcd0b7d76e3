// BertModel / RobertaModel: embeddings -> encoder -> optional pooler, the base every BERT
// head wraps under the name "bert" (or "roberta"), as HF does.
#pragma once
#include <memory>

#include "models/bert/bert_config.h"
#include "models/bert/bert_layers.h"
#include "models/model.h"

namespace models::bert {

// embeddings: word + token type + position (absolute), then LayerNorm and dropout.
class BertEmbeddings : public engine::nn::Module {
 public:
  explicit BertEmbeddings(const BertConfig& c);
  std::string type_name() const override { return c_.is_roberta() ? "RobertaEmbeddings" : "BertEmbeddings"; }
  // inputs_embeds [B,T,C], token_type_ids [B,T], position_ids [B,T] or [1,T] -> [B,T,C]
  Tensor forward(const Tensor& inputs_embeds, const Tensor& token_type_ids, const Tensor& position_ids) const;
  // HF's default positions: BERT past + arange(T) [1,T]; RoBERTa counts non-pad tokens from
  // padding_idx + 1 (create_position_ids_from_input_ids), or padding_idx + 1 + arange(T) when
  // only embeddings are given (create_position_ids_from_inputs_embeds, which ignores past).
  Tensor default_position_ids(const Tensor& input_ids, int64_t T, int64_t past) const;

 private:
  BertConfig c_;
};

// pooler: tanh(dense(hidden[:, 0])).
class BertPooler : public engine::nn::Module {
 public:
  explicit BertPooler(const BertConfig& c);
  std::string type_name() const override { return "BertPooler"; }
  Tensor forward(const Tensor& hidden) const;  // [B,T,C] -> [B,C]
};

class BertModel : public PretrainedModel {
 public:
  BertModel(const BertConfig& c, const nlohmann::json& config, bool add_pooling_layer = true);
  std::string type_name() const override { return c_.is_roberta() ? "RobertaModel" : "BertModel"; }
  std::string model_type() const override { return c_.model_type; }
  std::string architecture() const override { return type_name(); }
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
  // The forward pass with `root` (the outermost model) owning the input_embeds hook site.
  ModelOutput encode(const Batch& batch, const ForwardOptions& options, const engine::nn::Module& root) const;

  int64_t hidden_size() const override { return c_.hidden_size; }
  int64_t num_layers() const override { return c_.num_hidden_layers; }
  int64_t num_heads() const override { return c_.num_attention_heads; }
  int64_t head_dim() const override { return c_.head_dim(); }
  int64_t vocab_size() const override { return c_.vocab_size; }
  engine::nn::Embedding& input_embeddings() override;
  std::string base_prefix() const override { return c_.model_type + "."; }
  bool may_be_missing(const std::string& key) const override;
  bool may_be_unexpected(const std::string& key) const override;
  const BertConfig& bert_config() const { return c_; }

 private:
  BertConfig c_;
  bool pooling_;
};

// Keys any BERT-family checkpoint may carry that a given model ignores: legacy position_ids /
// token_type_ids buffers and other heads' parameters (HF's _keys_to_ignore_on_load_unexpected).
bool is_foreign_bert_key(const std::string& key, bool model_has_pooler);

}  // namespace models::bert
