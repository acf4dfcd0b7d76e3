// Interchange with Python's PEFT: every adapter PEFT wrote in ../shared/fixtures loads, and
// what we write back for it has exactly PEFT's config keys (same values) and tensor keys,
// shapes and dtypes — so PEFT can load our files.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/io/tensor_io.h"
#include "models/model.h"
#include "peft/core/peft_model.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

class AdapterInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(AdapterInterop, SavedFilesMatchPeftsLayout) {
  const std::string rel = GetParam();
  SKIP_WITHOUT_SHARED("fixtures/" + rel);
  const fs::path dir = test_support::shared_path("fixtures/" + rel);
  const fs::path model_dir = dir.parent_path().parent_path() / "model";
  peft::PeftModel model(models::load_pretrained(model_dir));
  model.load_adapter(dir);
  const fs::path out = fs::path(::testing::TempDir()) / ("interop_" + std::to_string(std::hash<std::string>{}(rel)));
  fs::remove_all(out);
  model.save_pretrained(out);

  const json theirs = read_json(dir / "adapter_config.json"), ours = read_json(out / "adapter_config.json");
  for (const auto& [key, value] : theirs.items()) {
    ASSERT_TRUE(ours.contains(key)) << rel << ": we do not write config field '" << key << "'";
    EXPECT_EQ(ours[key], value) << rel << ": config field '" << key << "'";
  }
  for (const auto& [key, value] : ours.items())
    EXPECT_TRUE(theirs.contains(key)) << rel << ": we write config field '" << key << "' (" << value.dump()
                                      << ") that PEFT 0.11's file lacks";

  const auto peft_tensors = engine::io::load_safetensors(dir / "adapter_model.safetensors");
  const auto our_tensors = engine::io::load_safetensors(out / "adapter_model.safetensors");
  EXPECT_EQ(our_tensors.size(), peft_tensors.size()) << rel;
  for (const auto& [key, t] : peft_tensors) {
    auto it = our_tensors.find(key);
    ASSERT_NE(it, our_tensors.end()) << rel << ": missing tensor " << key;
    EXPECT_EQ(it->second.shape(), t.shape()) << rel << ": " << key;
    EXPECT_EQ(it->second.dtype(), t.dtype()) << rel << ": " << key;
  }
  fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, AdapterInterop,
    ::testing::Values("bert_seqcls/adapter/adalora", "bert_seqcls/adapter/boft", "bert_seqcls/adapter/ia3",
                      "bert_seqcls/adapter/ln_tuning", "bert_seqcls/adapter/loha", "bert_seqcls/adapter/lokr",
                      "bert_seqcls/adapter/lora", "bert_seqcls/adapter/lora_dora", "bert_seqcls/adapter/lora_rslora",
                      "bert_seqcls/adapter/oft", "bert_seqcls/adapter/p_tuning", "bert_seqcls/adapter/prefix_tuning",
                      "bert_seqcls/adapter/prompt_tuning", "bert_seqcls/adapter/vera", "gpt2/adapter/ia3",
                      "gpt2/adapter/lora", "gpt2/adapter/p_tuning", "gpt2/adapter/prefix_tuning",
                      "gpt2/adapter/prompt_tuning", "t5/adapter/ia3", "t5/adapter/lora", "t5/adapter/prefix_tuning",
                      "t5/adapter/prompt_tuning"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = info.param;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

}  // namespace
