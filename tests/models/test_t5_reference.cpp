// T5 configs the golden fixture (v1.0) does not cover, checked against the plain-PyTorch T5 of
// tests/models/data/t5_reference.py (run in float64; transformers is not installable here):
// v1.1 / flan-t5 (gated-gelu, untied lm_head, no output rescale), d_kv != d_model / num_heads,
// more decoder than encoder layers, 8 buckets with max distance 12 (so short sequences reach
// the log-spaced buckets), and a non-default epsilon. Outputs and every parameter gradient.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/ops/reduce.h"
#include "models/model.h"

namespace {
namespace fs = std::filesystem;
using engine::Tensor;

nlohmann::json v11_config(const std::string& arch) {
  return {{"architectures", {arch}},
          {"model_type", "t5"},
          {"vocab_size", 40},
          {"d_model", 12},
          {"d_kv", 5},
          {"d_ff", 20},
          {"num_layers", 2},
          {"num_decoder_layers", 3},
          {"num_heads", 3},
          {"relative_attention_num_buckets", 8},
          {"relative_attention_max_distance", 12},
          {"layer_norm_epsilon", 1e-3},
          {"dropout_rate", 0.1},
          {"feed_forward_proj", "gated-gelu"},
          {"tie_word_embeddings", false},
          {"pad_token_id", 0},
          {"eos_token_id", 1},
          {"decoder_start_token_id", 0}};
}

const nlohmann::json kInputs = {
    {"input_ids", {{5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 1}, {6, 8, 10, 12, 14, 16, 1, 0, 0, 0, 0, 0}}},
    {"attention_mask", {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}}},
    {"labels", {{3, 4, 30, 31, 2, 8, 9, 22, 1}, {7, 33, 1, -100, -100, -100, -100, -100, -100}}},
    {"decoder_attention_mask", {{1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0, 0, 0}}}};

Tensor from_json(const nlohmann::json& v) {
  std::vector<int64_t> data;
  for (const auto& row : v)
    for (const auto& x : row) data.push_back(x.get<int64_t>());
  return engine::from_vector(data, {int64_t(v.size()), int64_t(v[0].size())});
}

// Runs the reference script on the saved model; returns its outputs by name.
nlohmann::json run_reference(const models::PretrainedModel& model, const std::string& tag) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("t5_ref_" + tag);
  fs::remove_all(dir);
  models::save_pretrained(model, dir / "model");
  std::ofstream(dir / "inputs.json") << kInputs.dump();
  const std::string cmd = "/usr/bin/python3 " PEFT_SOURCE_DIR "/tests/models/data/t5_reference.py " +
                          (dir / "model").string() + " " + (dir / "inputs.json").string() + " " +
                          (dir / "expected.json").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / "expected.json");
  return nlohmann::json::parse(in);
}

void expect_close(const std::string& name, const Tensor& got, const nlohmann::json& want) {
  ASSERT_TRUE(got.defined()) << name << " missing";
  EXPECT_EQ(got.shape(), want["shape"].get<engine::Shape>()) << name;
  std::vector<float> x = got.to_vector<float>();
  std::vector<double> y = want["data"].get<std::vector<double>>();
  ASSERT_EQ(x.size(), y.size()) << name;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size(); ++i) diff = std::max(diff, std::abs(x[i] - y[i])), scale = std::max(scale, std::abs(y[i]));
  EXPECT_GT(scale, 0) << name << " is all zeros: the check would be vacuous";
  EXPECT_LE(diff, 1e-4 * scale + 1e-6) << name << ": max |diff| " << diff << " (scale " << scale << ")";
}

// Random weights with a large spread so every parameter visibly matters.
models::ModelPtr random_model(const std::string& arch) {
  models::ModelPtr model = models::create_model(v11_config(arch), arch, 3);
  engine::Generator gen(17);
  for (auto& [name, p] : model->named_parameters()) engine::copy_(p, engine::normal(p.shape(), 0.0, 0.5, p.dtype(), gen));
  model->eval();
  return model;
}

bool have_torch() { return std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") == 0; }

TEST(T5Reference, GatedGeluUntiedMatchesPyTorch) {
  if (!have_torch()) GTEST_SKIP() << "no /usr/bin/python3 with torch for the reference";
  models::ModelPtr model = random_model("T5ForConditionalGeneration");
  ASSERT_TRUE(model->find("encoder.block.0.layer.1.DenseReluDense.wi_1"));
  const nlohmann::json expected = run_reference(*model, "v11");

  models::Batch b;
  b.input_ids = from_json(kInputs["input_ids"]);
  b.attention_mask = from_json(kInputs["attention_mask"]);
  b.labels = from_json(kInputs["labels"]);
  b.decoder_attention_mask = from_json(kInputs["decoder_attention_mask"]);
  models::ForwardOptions opt;
  opt.output_hidden_states = true;
  models::ModelOutput out = model->forward(b, opt);
  out.loss.backward();
  std::map<std::string, Tensor> got = {{"logits", out.logits},
                                       {"loss", out.loss},
                                       {"last_hidden_state", out.last_hidden_state},
                                       {"encoder_last_hidden_state", out.encoder_last_hidden_state}};
  for (size_t i = 0; i < out.encoder_hidden_states.size(); ++i)
    got["encoder_hidden_states." + std::to_string(i)] = out.encoder_hidden_states[i];
  for (size_t i = 0; i < out.decoder_hidden_states.size(); ++i)
    got["decoder_hidden_states." + std::to_string(i)] = out.decoder_hidden_states[i];
  for (const auto& [name, p] : model->named_parameters()) got["grad." + name] = p.grad();
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& [name, want] : expected.items()) {
    ASSERT_TRUE(got.count(name)) << name;
    expect_close(name, got[name], want);
  }
}

TEST(T5Reference, EncoderModelMatchesPyTorch) {
  if (!have_torch()) GTEST_SKIP() << "no /usr/bin/python3 with torch for the reference";
  models::ModelPtr model = random_model("T5EncoderModel");
  const nlohmann::json expected = run_reference(*model, "encoder");

  models::Batch b;
  b.input_ids = from_json(kInputs["input_ids"]);
  b.attention_mask = from_json(kInputs["attention_mask"]);
  models::ForwardOptions opt;
  opt.output_hidden_states = true;
  models::ModelOutput out = model->forward(b, opt);
  EXPECT_FALSE(out.loss.defined());
  // The script's synthetic loss: sum(last_hidden_state * linspace(-1, 1)).
  const int64_t n = out.last_hidden_state.numel();
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) w[size_t(i)] = float(-1.0 + 2.0 * double(i) / double(n - 1));
  engine::sum(out.last_hidden_state * engine::from_vector(w, out.last_hidden_state.shape())).backward();
  std::map<std::string, Tensor> got = {{"last_hidden_state", out.last_hidden_state}};
  for (size_t i = 0; i < out.hidden_states.size(); ++i) got["hidden_states." + std::to_string(i)] = out.hidden_states[i];
  for (const auto& [name, p] : model->named_parameters()) got["grad." + name] = p.grad();
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& [name, want] : expected.items()) {
    ASSERT_TRUE(got.count(name)) << name;
    expect_close(name, got[name], want);
  }
}

}  // namespace
