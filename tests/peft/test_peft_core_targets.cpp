// PEFT's target selection rules through LoRA: list entries match a name or a ".suffix",
// a string is a full-match regex, "all-linear" skips the output heads, exclude_modules,
// layers_to_transform with layers_pattern, rank_pattern / alpha_pattern, and the error that
// lists the model's module names when nothing matches.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "peft/methods/lora/layer.h"
#include "test_lora_helpers.h"

namespace {
using peft::lora::LoraLinear;
using namespace lora_test;

std::vector<std::string> targets_of(const std::string& kind, const json& overrides) {
  peft::PeftModel pm(tiny_model(kind));
  auto& ad = static_cast<peft::LayerAdapter&>(pm.add_adapter("default", lora_config(overrides)));
  std::vector<std::string> out;
  for (const auto& [path, layer] : ad.layers()) out.push_back(path);
  return out;
}

std::string bert_attn(int layer, const std::string& m) {
  return "bert.encoder.layer." + std::to_string(layer) + ".attention.self." + m;
}

TEST(PeftTargets, ListEntriesMatchNamesAndSuffixes) {
  EXPECT_EQ(targets_of("bert", {{"target_modules", {"query", "attention.output.dense"}}}),
            (std::vector<std::string>{bert_attn(0, "query"), "bert.encoder.layer.0.attention.output.dense",
                                      bert_attn(1, "query"), "bert.encoder.layer.1.attention.output.dense"}));
  // "dense" is a suffix of every dense module, never a substring match ("ense" matches nothing).
  EXPECT_EQ(targets_of("bert", {{"target_modules", {"dense"}}}).size(), 2u * 3 + 1);  // + the pooler
  EXPECT_THROW(targets_of("bert", {{"target_modules", {"ense"}}}), engine::KeyError);
  // The default table: bert -> query, value.
  EXPECT_EQ(targets_of("bert", json::object()),
            (std::vector<std::string>{bert_attn(0, "query"), bert_attn(0, "value"), bert_attn(1, "query"),
                                      bert_attn(1, "value")}));
}

TEST(PeftTargets, AStringIsAFullMatchRegex) {
  EXPECT_EQ(targets_of("bert", {{"target_modules", R"(.*layer\.1\..*(query|key))"}}),
            (std::vector<std::string>{bert_attn(1, "query"), bert_attn(1, "key")}));
  EXPECT_THROW(targets_of("bert", {{"target_modules", "query"}}), engine::KeyError);  // not a full match
}

TEST(PeftTargets, AllLinearSkipsTheOutputHeads) {
  const auto bert = targets_of("bert", {{"target_modules", "all-linear"}});
  EXPECT_EQ(bert.size(), 2u * 6 + 1);  // q k v o, intermediate, output per layer + pooler
  EXPECT_EQ(std::count(bert.begin(), bert.end(), "classifier"), 0);
  const auto gpt2 = targets_of("gpt2", {{"target_modules", "all-linear"}});
  EXPECT_EQ(gpt2.size(), 2u * 4);  // c_attn, c_proj, c_fc, mlp.c_proj
  EXPECT_EQ(std::count(gpt2.begin(), gpt2.end(), "lm_head"), 0);
}

TEST(PeftTargets, ExcludeModulesAndLayersToTransform) {
  EXPECT_EQ(targets_of("bert", {{"target_modules", {"query", "value"}}, {"exclude_modules", {"value"}}}),
            (std::vector<std::string>{bert_attn(0, "query"), bert_attn(1, "query")}));
  EXPECT_EQ(targets_of("bert", {{"target_modules", {"query", "value"}}, {"layers_to_transform", {1}},
                                {"layers_pattern", "layer"}}),
            (std::vector<std::string>{bert_attn(1, "query"), bert_attn(1, "value")}));
  EXPECT_EQ(targets_of("gpt2", {{"target_modules", {"c_attn"}}, {"layers_to_transform", {0}}}),
            (std::vector<std::string>{"transformer.h.0.attn.c_attn"}));
}

TEST(PeftTargets, RankAndAlphaPatternsOverrideByModuleName) {
  peft::PeftModel pm(tiny_model("bert"));
  auto& ad = static_cast<peft::LayerAdapter&>(pm.add_adapter(
      "default", lora_config({{"r", 4}, {"lora_alpha", 8}, {"rank_pattern", {{"value", 2}}},
                              {"alpha_pattern", {{R"(layer\.1\.attention\.self\.query)", 32}}}})));
  for (const auto& [path, layer] : ad.layers()) {
    const auto& s = static_cast<LoraLinear&>(*layer).settings("default");
    const bool value = path.find("value") != std::string::npos;
    EXPECT_EQ(s.r, value ? 2 : 4) << path;
    EXPECT_EQ(static_cast<LoraLinear&>(*layer).lora_A("default").size(0), s.r);
    const double alpha = path == bert_attn(1, "query") ? 32 : 8;
    EXPECT_DOUBLE_EQ(s.scaling, alpha / double(s.r)) << path;
  }
}

TEST(PeftTargets, NoMatchErrorListsTheModuleNames) {
  try {
    targets_of("bert", {{"target_modules", {"nonexistent"}}});
    ADD_FAILURE() << "expected a KeyError";
  } catch (const engine::KeyError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("nonexistent"), std::string::npos) << msg;
    EXPECT_NE(msg.find(bert_attn(0, "query")), std::string::npos) << msg;
  }
}

}  // namespace
