// BERT / RoBERTa hyper-parameters read from config.json, validated field by field
// (transformers 4.33 BertConfig / RobertaConfig defaults).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "models/common/loss.h"

namespace models::bert {

struct BertConfig {
  std::string model_type = "bert";  // "bert" or "roberta"
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;  // RoBERTa: 1
  double initializer_range = 0.02;
  double classifier_dropout = -1;  // < 0: null, use hidden_dropout_prob
  common::ClassificationConfig classification;

  bool is_roberta() const { return model_type == "roberta"; }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  double classifier_dropout_or_hidden() const {
    return classifier_dropout >= 0 ? classifier_dropout : hidden_dropout_prob;
  }
};

// Reads and validates every field (ConfigError naming the field on a bad value; the
// activation name is checked against the engine's table).
BertConfig read_bert_config(const nlohmann::json& config);

}  // namespace models::bert
