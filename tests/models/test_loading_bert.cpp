// Checkpoint loading through the BERT fixtures: every file layout HF writes (single and
// sharded safetensors, pytorch_model.bin, f16/bf16 weights), keys with or without the base
// prefix, tied decoders omitted, and strict errors that list every problem at once.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "models/loading/checkpoint.h"
#include "models/model.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;
using engine::Tensor;
using models::TensorMap;

// A fresh temp folder holding the case's config.json (weights are written by each test).
fs::path temp_model_dir(const std::string& name, const std::string& fixture) {
  fs::path dir = fs::path(::testing::TempDir()) / ("loading_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(test_support::shared_path("fixtures/" + fixture + "/model/config.json"), dir / "config.json");
  return dir;
}

TensorMap fixture_weights(const std::string& fixture) {
  return models::read_safetensors(test_support::shared_path("fixtures/" + fixture + "/model/model.safetensors"));
}

std::vector<std::pair<std::string, Tensor>> as_list(const TensorMap& m) { return {m.begin(), m.end()}; }

// Every state-dict entry of `model` equals the reference checkpoint value (by model name).
void expect_weights(const models::PretrainedModel& model, const TensorMap& reference, const std::string& prefix_to_add,
                    double tol = 0) {
  const auto state = model.state_dict();
  for (const auto& [key, value] : reference) {
    auto it = state.find(prefix_to_add + key);
    ASSERT_NE(it, state.end()) << key;
    std::vector<float> got = it->second.to_vector<float>(), want = value.to_vector<float>();
    ASSERT_EQ(got.size(), want.size()) << key;
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << key << "[" << i << "]";
  }
}

TEST(BertLoading, ShardedSafetensors) {
  SKIP_WITHOUT_SHARED("fixtures/bert_seqcls");
  fs::path dir = temp_model_dir("sharded", "bert_seqcls");
  TensorMap all = fixture_weights("bert_seqcls");
  std::vector<std::pair<std::string, Tensor>> shard[2];
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  int i = 0;
  for (const auto& [key, t] : all) {
    const int s = i++ % 2;
    const std::string file = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
    shard[s].emplace_back(key, t);
    index["weight_map"][key] = file;
  }
  models::write_safetensors(dir / "model-00001-of-00002.safetensors", shard[0]);
  models::write_safetensors(dir / "model-00002-of-00002.safetensors", shard[1]);
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);
  models::ModelPtr model = models::load_pretrained(dir);
  EXPECT_EQ(model->architecture(), "BertForSequenceClassification");
  expect_weights(*model, all, "");
}

TEST(BertLoading, PytorchModelBin) {
  SKIP_WITHOUT_SHARED("fixtures/bert_mlm");
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no /usr/bin/python3 with torch to write a pytorch_model.bin";
  fs::path dir = temp_model_dir("bin", "bert_mlm");
  const fs::path fixtures = test_support::shared_path("fixtures");
  // torch.save of the fixture's tensors, read with check_case.py's numpy safetensors reader.
  const std::string script =
      "import sys, torch; sys.path.insert(0, '" + fixtures.string() + "'); from check_case import read_safetensors; "
      "sd = {k: torch.from_numpy(v.astype('float32')) for k, v in read_safetensors('" +
      (fixtures / "bert_mlm/model/model.safetensors").string() + "').items()}; torch.save(sd, '" +
      (dir / "pytorch_model.bin").string() + "')";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"" + script + "\"").c_str()), 0);
  models::ModelPtr model = models::load_pretrained(dir);
  expect_weights(*model, fixture_weights("bert_mlm"), "");
}

class BertHalfLoading : public ::testing::TestWithParam<engine::DType> {};

TEST_P(BertHalfLoading, ConvertsToFloat32) {
  SKIP_WITHOUT_SHARED("fixtures/bert");
  const engine::DType half = GetParam();
  fs::path dir = temp_model_dir(std::string("half_") + engine::dtype_name(half), "bert");
  TensorMap halved;
  for (const auto& [key, t] : fixture_weights("bert")) halved[key] = t.to(half);
  models::write_safetensors(dir / "model.safetensors", as_list(halved));
  models::ModelPtr model = models::load_pretrained(dir);
  TensorMap expected;  // the f32 values the half checkpoint holds exactly
  for (const auto& [key, t] : halved) expected[key] = t.to(engine::DType::f32);
  expect_weights(*model, expected, "");
  EXPECT_EQ(model->named_parameters()[0].second.dtype(), engine::DType::f32);
}

INSTANTIATE_TEST_SUITE_P(Half, BertHalfLoading, ::testing::Values(engine::DType::f16, engine::DType::bf16),
                         [](const auto& i) { return std::string(engine::dtype_name(i.param)); });

TEST(BertLoading, KeysWithoutOrWithBasePrefix) {
  SKIP_WITHOUT_SHARED("fixtures/bert_seqcls");
  // A head model's base keys without "bert." (as a BertModel saves them)...
  fs::path dir = temp_model_dir("no_prefix", "bert_seqcls");
  TensorMap stripped;
  for (const auto& [key, t] : fixture_weights("bert_seqcls"))
    stripped[key.rfind("bert.", 0) == 0 ? key.substr(5) : key] = t;
  models::write_safetensors(dir / "model.safetensors", as_list(stripped));
  expect_weights(*models::load_pretrained(dir), fixture_weights("bert_seqcls"), "");
  // ...and a BertModel reading a head checkpoint's "bert."-prefixed keys.
  fs::path dir2 = temp_model_dir("with_prefix", "bert");
  TensorMap prefixed;
  for (const auto& [key, t] : fixture_weights("bert")) prefixed["bert." + key] = t;
  prefixed["cls.predictions.bias"] = engine::zeros({161});  // another head's key: ignored
  models::write_safetensors(dir2 / "model.safetensors", as_list(prefixed));
  expect_weights(*models::load_pretrained(dir2), fixture_weights("bert"), "");
}

TEST(BertLoading, StrictErrorListsEveryProblem) {
  SKIP_WITHOUT_SHARED("fixtures/bert");
  fs::path dir = temp_model_dir("strict", "bert");
  TensorMap w = fixture_weights("bert");
  w.erase("encoder.layer.1.attention.self.key.weight");
  w["encoder.layer.0.attention.self.extra.weight"] = engine::zeros({3});
  w["pooler.dense.weight"] = engine::zeros({32, 31});
  models::write_safetensors(dir / "model.safetensors", as_list(w));
  try {
    models::load_pretrained(dir);
    FAIL() << "a broken checkpoint loaded";
  } catch (const engine::KeyError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing key encoder.layer.1.attention.self.key.weight [32,32]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected key encoder.layer.0.attention.self.extra.weight [3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pooler.dense.weight: checkpoint [32,31], model [32,32]"), std::string::npos) << msg;
  }
}

TEST(BertLoading, BadConfigValueNamesTheField) {
  SKIP_WITHOUT_SHARED("fixtures/bert");
  nlohmann::json base = models::read_config(test_support::shared_path("fixtures/bert/model"));
  const std::pair<const char*, nlohmann::json> bad[] = {
      {"hidden_act", "no_such_activation"}, {"num_attention_heads", 5},  {"hidden_size", -32},
      {"position_embedding_type", "relative_key"}, {"hidden_dropout_prob", 1.5}, {"layer_norm_eps", "small"},
      {"problem_type", "ranking"}, {"is_decoder", true},
  };
  for (const auto& [field, value] : bad) {
    nlohmann::json config = base;
    config[field] = value;
    try {
      models::create_model(config, "BertModel", 0);
      ADD_FAILURE() << field << " = " << value.dump() << " was accepted";
    } catch (const engine::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  }
}

TEST(BertLoading, TiedDecoderOmittedOrPresent) {
  SKIP_WITHOUT_SHARED("fixtures/bert_mlm");
  const fs::path folder = test_support::shared_path("fixtures/bert_mlm/model");
  ASSERT_EQ(fixture_weights("bert_mlm").count("cls.predictions.decoder.weight"), 0u);  // HF omits it
  models::ModelPtr model = models::load_pretrained(folder);
  auto state = model->state_dict();
  Tensor decoder = state.at("cls.predictions.decoder.weight");
  EXPECT_TRUE(decoder.is_same(state.at("bert.embeddings.word_embeddings.weight")));
  EXPECT_TRUE(state.at("cls.predictions.decoder.bias").is_same(state.at("cls.predictions.bias")));
  // A checkpoint that keeps the tied copies loads as well.
  fs::path dir = temp_model_dir("tied_present", "bert_mlm");
  TensorMap w = fixture_weights("bert_mlm");
  w["cls.predictions.decoder.weight"] = w.at("bert.embeddings.word_embeddings.weight");
  w["cls.predictions.decoder.bias"] = w.at("cls.predictions.bias");
  models::write_safetensors(dir / "model.safetensors", as_list(w));
  expect_weights(*models::load_pretrained(dir), fixture_weights("bert_mlm"), "");
}

TEST(BertLoading, SavePretrainedRoundTripOmitsTiedCopies) {
  SKIP_WITHOUT_SHARED("fixtures/bert_mlm");
  models::ModelPtr model = models::load_pretrained(test_support::shared_path("fixtures/bert_mlm/model"));
  fs::path dir = fs::path(::testing::TempDir()) / "loading_saved_mlm";
  fs::remove_all(dir);
  models::save_pretrained(*model, dir);
  TensorMap saved = models::read_safetensors(dir / "model.safetensors");
  EXPECT_EQ(saved.count("cls.predictions.decoder.weight"), 0u);
  EXPECT_EQ(saved.size(), fixture_weights("bert_mlm").size());
  expect_weights(*models::load_pretrained(dir), fixture_weights("bert_mlm"), "");
}

}  // namespace
