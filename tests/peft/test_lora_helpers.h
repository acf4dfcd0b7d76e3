// Shared by the LoRA / PEFT-core tests: tiny random BERT, GPT-2 and T5 models (dropout off,
// eval mode), batches for them, and comparisons of tensors and state dicts.
#pragma once
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "models/model.h"
#include "peft/core/layer_adapter.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"

namespace lora_test {

using engine::Tensor;
using json = nlohmann::json;

inline json bert_config(int64_t hidden = 32) {
  return {{"model_type", "bert"}, {"vocab_size", 50}, {"hidden_size", hidden}, {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"intermediate_size", 2 * hidden}, {"max_position_embeddings", 16},
          {"type_vocab_size", 2}, {"hidden_dropout_prob", 0.0}, {"attention_probs_dropout_prob", 0.0},
          {"num_labels", 3}, {"id2label", {{"0", "A"}, {"1", "B"}, {"2", "C"}}}, {"pad_token_id", 0}};
}

inline json gpt2_config(int64_t hidden = 32) {
  return {{"model_type", "gpt2"}, {"vocab_size", 50}, {"n_positions", 16}, {"n_embd", hidden}, {"n_layer", 2},
          {"n_head", 4}, {"n_inner", nullptr}, {"resid_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"attn_pdrop", 0.0},
          {"pad_token_id", 0}, {"eos_token_id", 1}};
}

inline json t5_config() {
  return {{"model_type", "t5"}, {"vocab_size", 50}, {"d_model", 32}, {"d_kv", 8}, {"d_ff", 64}, {"num_layers", 2},
          {"num_decoder_layers", 2}, {"num_heads", 4}, {"dropout_rate", 0.0}, {"feed_forward_proj", "relu"},
          {"pad_token_id", 0}, {"eos_token_id", 1}, {"decoder_start_token_id", 0}};
}

// A tiny random model in eval mode: "bert" (sequence classification), "gpt2" (LM), "t5".
inline models::ModelPtr tiny_model(const std::string& kind, uint64_t seed = 1, int64_t hidden = 32) {
  models::ModelPtr m = kind == "bert"   ? models::create_model(bert_config(hidden), "BertForSequenceClassification", seed)
                       : kind == "gpt2" ? models::create_model(gpt2_config(hidden), "GPT2LMHeadModel", seed)
                                        : models::create_model(t5_config(), "T5ForConditionalGeneration", seed);
  m->eval();
  return m;
}

// Two sequences of 5 tokens with labels for the model kind's loss.
inline models::Batch tiny_batch(const std::string& kind) {
  models::Batch b;
  b.input_ids = engine::from_vector(std::vector<int64_t>{5, 7, 9, 11, 13, 6, 8, 10, 12, 14}, {2, 5});
  b.attention_mask = engine::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {2, 5});
  if (kind == "bert") b.labels = engine::from_vector(std::vector<int64_t>{0, 2}, {2});
  if (kind == "gpt2") b.labels = b.input_ids;
  if (kind == "t5") b.labels = engine::from_vector(std::vector<int64_t>{4, 8, 15, 1, 3, 9}, {2, 3});
  return b;
}

inline double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  return engine::max(engine::abs(engine::to_dtype(a, engine::DType::f64) - engine::to_dtype(b, engine::DType::f64)))
      .item<double>();
}

// A deep copy of every parameter and buffer.
inline std::map<std::string, Tensor> snapshot(const engine::nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : m.state_dict()) out[name] = t.clone();
  return out;
}

inline bool bit_identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

inline std::shared_ptr<peft::PeftConfig> lora_config(const json& overrides = json::object(),
                                                    const std::string& preset = "lora") {
  return peft::make_config(preset, overrides);
}

// Central differences in f32 on a few entries of each tensor vs its backward gradient.
// `loss` recomputes a scalar from the current tensor values.
inline void expect_fd_grads(const std::function<Tensor()>& loss, const std::vector<std::pair<std::string, Tensor>>& tensors,
                            double eps = 1e-2, double atol = 2e-3, double rtol = 1e-2) {
  for (auto [name, t] : tensors) t.zero_grad();
  loss().backward();
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(t.grad().defined()) << name << " got no gradient";
    const std::vector<double> g = t.grad().to_vector<double>();
    float* p = t.data<float>();
    const int64_t n = t.numel(), step = std::max<int64_t>(1, n / 7);
    for (int64_t i = 0; i < n; i += step) {
      engine::NoGradGuard no_grad;
      const float keep = p[i];
      p[i] = keep + float(eps);
      const double up = loss().item<double>();
      p[i] = keep - float(eps);
      const double down = loss().item<double>();
      p[i] = keep;
      const double fd = (up - down) / (2 * eps);
      EXPECT_NEAR(g[i], fd, atol + rtol * std::abs(fd)) << name << "[" << i << "]";
    }
  }
}

}  // namespace lora_test
