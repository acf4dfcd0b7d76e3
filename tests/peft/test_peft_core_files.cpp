// Adapter folders through LoRA: PEFT's layout (default in dir/, others in dir/<name>/), the
// config file's keys and the tensors' keys and shapes equal those of the file peft 0.11.1
// wrote for the same config (../shared fixtures), unknown config keys warn, and a saved
// adapter loads into a fresh model with identical outputs.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/io/tensor_io.h"
#include "peft/core/config.h"
#include "support/test_support.h"
#include "test_lora_helpers.h"

namespace {
namespace fs = std::filesystem;
using namespace lora_test;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

TEST(PeftFiles, DefaultGoesToTheFolderOthersToSubfolders) {
  const fs::path dir = fs::path(::testing::TempDir()) / "peft_layout";
  fs::remove_all(dir);
  peft::PeftModel pm(tiny_model("bert"));
  pm.add_adapter("default", lora_config({{"init_lora_weights", false}}));
  pm.add_adapter("other", lora_config({{"init_lora_weights", false}, {"r", 2}}), 3);
  pm.save_pretrained(dir);
  for (const fs::path& d : {dir, dir / "other"}) {
    EXPECT_TRUE(fs::exists(d / "adapter_config.json")) << d;
    EXPECT_TRUE(fs::exists(d / "adapter_model.safetensors")) << d;
  }
  EXPECT_EQ(read_json(dir / "other" / "adapter_config.json")["r"], 2);
  EXPECT_EQ(read_json(dir / "adapter_config.json")["inference_mode"], true);
  // Each folder loads back as its adapter.
  const models::Batch batch = tiny_batch("bert");
  pm.set_adapter({"other"});
  const engine::Tensor expected = pm.forward(batch).logits.clone();
  peft::PeftModel fresh(tiny_model("bert"));
  fresh.load_adapter(dir / "other", "other");
  EXPECT_LT(max_diff(fresh.forward(batch).logits, expected), 1e-7);
  fs::remove_all(dir);
}

// Our file for the fixture's config, next to the file peft wrote.
TEST(PeftFiles, ConfigKeysAndTensorKeysMatchPeftsFile) {
  SKIP_WITHOUT_SHARED("fixtures/bert_seqcls/adapter/lora");
  const fs::path theirs = test_support::shared_path("fixtures/bert_seqcls/adapter/lora");
  const fs::path ours = fs::path(::testing::TempDir()) / "peft_lora_like_fixture";
  fs::remove_all(ours);
  const json their_config = read_json(theirs / "adapter_config.json");
  peft::PeftModel pm(models::load_pretrained(test_support::shared_path("fixtures/bert_seqcls/model")));
  pm.add_adapter("default", peft::config_from_json(their_config, "fixture"));
  pm.save_pretrained(ours);

  const json our_config = read_json(ours / "adapter_config.json");
  for (const auto& [key, value] : their_config.items()) {
    if (key == "auto_mapping") continue;  // PEFT's bookkeeping for custom models
    ASSERT_TRUE(our_config.contains(key)) << key;
    if (key != "inference_mode") EXPECT_EQ(our_config[key], value) << key;
  }
  for (const auto& [key, value] : our_config.items())  // newer PEFT's fields, at their defaults
    if (!their_config.contains(key)) EXPECT_TRUE(key == "exclude_modules" || key == "lora_bias" || key == "peft_version") << key;

  const auto their_tensors = engine::io::load_safetensors(theirs / "adapter_model.safetensors");
  const auto our_tensors = engine::io::load_safetensors(ours / "adapter_model.safetensors");
  ASSERT_EQ(our_tensors.size(), their_tensors.size());
  for (const auto& [key, t] : their_tensors) {
    ASSERT_TRUE(our_tensors.count(key)) << key;
    EXPECT_EQ(our_tensors.at(key).shape(), t.shape()) << key;
    EXPECT_EQ(our_tensors.at(key).dtype(), t.dtype()) << key;
  }
  fs::remove_all(ours);
}

TEST(PeftFiles, UnknownConfigKeysWarnAndAreIgnored) {
  ::testing::internal::CaptureStderr();
  auto config = peft::config_from_json({{"peft_type", "LORA"}, {"r", 2}, {"shiny_new_option", 1}}, "test.json");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("shiny_new_option"), std::string::npos) << err;
  EXPECT_NE(err.find("test.json"), std::string::npos) << err;
  EXPECT_EQ(config->to_json().count("shiny_new_option"), 0u);
  EXPECT_THROW(peft::config_from_json({{"peft_type", "LORA"}, {"r", "two"}}, "test.json"), engine::ConfigError);
  EXPECT_THROW(peft::config_from_json({{"peft_type", "LORA"}, {"r", 0}}, "test.json"), engine::ConfigError);
}

}  // namespace
