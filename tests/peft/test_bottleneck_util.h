// Tiny random BERT / GPT-2 / T5 models, batches and checks shared by the site-adapter tests
// (bottleneck, Compacter, MAM, UniPELT, composition).
#pragma once
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "models/model.h"

namespace bn_test {

using engine::Tensor;

// hidden 32, 2 layers (T5: 2 + 2), 4 heads, no dropout.
inline models::ModelPtr tiny(const std::string& arch) {
  nlohmann::json c;
  if (arch.rfind("Bert", 0) == 0) {
    c = {{"model_type", "bert"}, {"vocab_size", 40}, {"hidden_size", 32}, {"num_hidden_layers", 2},
         {"num_attention_heads", 4}, {"intermediate_size", 48}, {"hidden_act", "gelu"},
         {"max_position_embeddings", 32}, {"type_vocab_size", 2}, {"hidden_dropout_prob", 0.0},
         {"attention_probs_dropout_prob", 0.0}, {"num_labels", 3}};
  } else if (arch.rfind("GPT2", 0) == 0) {
    c = {{"model_type", "gpt2"}, {"vocab_size", 40}, {"n_positions", 32}, {"n_embd", 32}, {"n_layer", 2},
         {"n_head", 4}, {"resid_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"attn_pdrop", 0.0}};
  } else {
    c = {{"model_type", "t5"}, {"vocab_size", 40}, {"d_model", 32}, {"d_kv", 8}, {"d_ff", 48}, {"num_layers", 2},
         {"num_decoder_layers", 2}, {"num_heads", 4}, {"relative_attention_num_buckets", 8},
         {"relative_attention_max_distance", 16}, {"dropout_rate", 0.0}, {"feed_forward_proj", "relu"},
         {"decoder_start_token_id", 0}};
  }
  models::ModelPtr m = models::create_model(c, arch, 11);
  m->eval();
  return m;
}

inline models::Batch batch_for(const std::string& arch) {
  models::Batch b;
  b.input_ids = engine::from_vector(std::vector<int64_t>{5, 7, 9, 11, 13, 6, 8, 10, 12, 14}, {2, 5});
  b.attention_mask = engine::ones({2, 5}, engine::DType::i64);
  if (arch.rfind("Bert", 0) == 0) b.labels = engine::from_vector(std::vector<int64_t>{1, 2}, {2});
  else if (arch.rfind("GPT2", 0) == 0) b.labels = b.input_ids;
  else b.labels = engine::from_vector(std::vector<int64_t>{3, 4, 5, 6, 7, 8}, {2, 3});
  return b;
}

inline const std::vector<std::string>& archs() {
  static const std::vector<std::string> a = {"BertForSequenceClassification", "GPT2LMHeadModel",
                                             "T5ForConditionalGeneration"};
  return a;
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  return engine::max(engine::abs(engine::to_dtype(a, engine::DType::f64) - engine::to_dtype(b, engine::DType::f64)))
      .item<double>();
}

// Bit-exact copies of every base parameter (adapters' wrappers excluded by the caller's filter).
inline std::map<std::string, Tensor> snapshot(const models::PretrainedModel& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, t] : m.state_dict()) out[k] = t.clone();
  return out;
}

inline bool bit_equal(const Tensor& a, const Tensor& b) { return max_abs_diff(a, b) == 0.0; }

}  // namespace bn_test
