// Helpers for the prompt-learning tests (test_prompt_*.cpp, test_prefix_*.cpp): tiny random
// BERT / GPT-2 / T5 models (hidden 32, 2 layers, 4 heads, eval mode) with weights spread
// enough that outputs depend on every position, batches, and small comparisons.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "models/model.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"

namespace prompt_test {

using engine::Tensor;
using json = nlohmann::json;

inline nlohmann::json tiny_config(const std::string& type) {
  if (type == "bert")
    return {{"model_type", "bert"}, {"vocab_size", 50}, {"hidden_size", 32}, {"num_hidden_layers", 2},
            {"num_attention_heads", 4}, {"intermediate_size", 48}, {"max_position_embeddings", 40},
            {"type_vocab_size", 2}, {"num_labels", 3}, {"hidden_act", "gelu"}};
  if (type == "gpt2")
    return {{"model_type", "gpt2"}, {"vocab_size", 50}, {"n_positions", 40}, {"n_embd", 32}, {"n_layer", 2},
            {"n_head", 4}, {"n_inner", nullptr}, {"pad_token_id", 0}, {"eos_token_id", 1}};
  return {{"model_type", "t5"}, {"vocab_size", 50}, {"d_model", 32}, {"d_kv", 8}, {"d_ff", 48},
          {"num_layers", 2}, {"num_decoder_layers", 2}, {"num_heads", 4}, {"relative_attention_num_buckets", 8},
          {"relative_attention_max_distance", 20}, {"decoder_start_token_id", 0}, {"pad_token_id", 0},
          {"eos_token_id", 1}};
}

inline std::string architecture(const std::string& type) {
  return type == "bert" ? "BertForSequenceClassification" : type == "gpt2" ? "GPT2LMHeadModel" : "T5ForConditionalGeneration";
}

inline std::string task_type(const std::string& type) {
  return type == "bert" ? "SEQ_CLS" : type == "gpt2" ? "CAUSAL_LM" : "SEQ_2_SEQ_LM";
}

// A tiny model in eval mode; HF's init (std 0.02) makes every position look alike, so the
// weights are re-drawn wider (norm weights around 1).
inline models::ModelPtr tiny_model(const std::string& type, uint64_t seed = 7, const nlohmann::json& patch = {}) {
  nlohmann::json config = tiny_config(type);
  for (const auto& [k, v] : patch.items()) config[k] = v;
  models::ModelPtr model = models::create_model(config, architecture(type), seed);
  engine::Generator gen(seed);
  engine::NoGradGuard no_grad;
  for (auto& [name, p] : model->named_parameters()) {
    const bool norm = name.find("LayerNorm") != std::string::npos || name.find("layer_norm") != std::string::npos ||
                      name.find("ln_") != std::string::npos;
    const bool norm_weight = norm && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    engine::copy_(p, engine::normal(p.shape(), norm_weight ? 1.0 : 0.0, norm ? 0.1 : 0.3, p.dtype(), gen));
  }
  model->eval();
  return model;
}

// Two right-padded rows (lengths 6 and 4) with labels: class ids for BERT, token ids for the
// LMs (-100 at padding), T5 targets of length 3.
inline models::Batch tiny_batch(const std::string& type) {
  models::Batch b;
  b.input_ids = engine::from_vector(std::vector<int64_t>{5, 9, 13, 20, 7, 11, 30, 4, 8, 2, 0, 0}, {2, 6});
  b.attention_mask = engine::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 6});
  if (type == "bert") {
    b.token_type_ids = engine::from_vector(std::vector<int64_t>{0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0}, {2, 6});
    b.labels = engine::from_vector(std::vector<int64_t>{2, 0}, {2});
  } else if (type == "gpt2") {
    b.labels = engine::from_vector(std::vector<int64_t>{5, 9, 13, 20, 7, 11, 30, 4, 8, 2, -100, -100}, {2, 6});
  } else {
    b.labels = engine::from_vector(std::vector<int64_t>{12, 17, 1, 22, 1, -100}, {2, 3});
  }
  return b;
}

// A PeftModel over a fresh tiny model with one adapter made from a preset plus overrides.
inline std::unique_ptr<peft::PeftModel> with_adapter(const std::string& type, const std::string& preset,
                                                     nlohmann::json overrides, uint64_t seed = 3) {
  overrides["task_type"] = task_type(type);
  auto model = std::make_unique<peft::PeftModel>(tiny_model(type));
  model->add_adapter("default", peft::make_config(preset, overrides), seed);
  return model;
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  return engine::max(engine::abs(engine::to_dtype(a, engine::DType::f64) - engine::to_dtype(b, engine::DType::f64)))
      .item<double>();
}

inline double max_abs(const Tensor& a) { return engine::max(engine::abs(engine::to_dtype(a, engine::DType::f64))).item<double>(); }

// A copy of the base model's own tensors by their HF names, without PEFT's modules_to_save
// copies (`classifier.original_module.weight` reads `classifier.weight`).
inline std::map<std::string, Tensor> base_state(const engine::nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : engine::nn::clone_state(m)) {
    if (name.find(".modules_to_save.") != std::string::npos) continue;
    std::string key = name;
    if (size_t at = key.find(".original_module."); at != std::string::npos) key.erase(at, std::string(".original_module").size());
    out[key] = t;
  }
  return out;
}

// Central differences (5-point stencil, error O(h⁴)) of the loss in three entries of `t`
// against its backward gradient; f32 throughout, so the tolerance is relative to the largest
// gradient entry.
inline void expect_fd_gradient(peft::PeftModel& m, const models::Batch& batch, Tensor t, const std::string& what) {
  for (auto& [name, p] : m.trainable_parameters()) p.zero_grad();
  m.forward(batch).loss.backward();
  ASSERT_TRUE(t.grad().defined()) << what;
  const std::vector<float> g = t.grad().contiguous().to_vector<float>();
  const double scale = max_abs(t.grad());
  ASSERT_GT(scale, 0) << what;
  engine::NoGradGuard no_grad;
  float* data = t.data<float>();
  auto loss_at = [&](int64_t i, float value) {
    const float saved = data[i];
    data[i] = value;
    const double loss = m.forward(batch).loss.item<double>();
    data[i] = saved;
    return loss;
  };
  for (int64_t i : {int64_t(1) % t.numel(), t.numel() / 2, t.numel() - 1}) {
    const float x = data[i], h = 5e-3f;
    const double fd = (-loss_at(i, x + 2 * h) + 8 * loss_at(i, x + h) - 8 * loss_at(i, x - h) + loss_at(i, x - 2 * h)) / (12 * h);
    EXPECT_NEAR(fd, g[size_t(i)], 5e-3 * scale + 2e-4) << what << " entry " << i;
  }
}

}  // namespace prompt_test
