// (IA)³: PEFT's feed-forward rules and shapes, then the layer on tiny BERT / GPT-2 (Conv1D) /
// T5: gradients, training, merge (refused for a zero scale), several adapters, files.
#include <gtest/gtest.h>

#include "peft/methods/ia3/config.h"
#include "test_oft_common.h"

namespace {

using engine::Tensor;
using oft_test::json;

std::map<std::string, engine::Shape> shapes_of(const peft::PeftModel& pm) {
  std::map<std::string, engine::Shape> out;
  for (const auto& [key, t] : pm.trainable_parameters()) out[key] = t.shape();
  return out;
}

TEST(Ia3Config, FeedforwardMustBeASubsetOfTargets) {
  EXPECT_THROW(peft::make_config("ia3", {{"target_modules", {"key"}}, {"feedforward_modules", {"dense"}}}), engine::ConfigError);
  EXPECT_NO_THROW(peft::make_config("ia3", {{"target_modules", {"key", "dense"}}, {"feedforward_modules", {"dense"}}}));
  // PEFT's plain suffix test: "output.dense" also matches the attention output.
  const auto ff = peft::ModuleSelector::list_of({"output.dense"});
  EXPECT_TRUE(peft::ia3::Ia3Config::is_feedforward(ff, "bert.encoder.layer.0.attention.output.dense"));
  EXPECT_TRUE(peft::ia3::Ia3Config::is_feedforward(peft::ModuleSelector::list_of({"ense"}), "a.dense"));
  EXPECT_FALSE(peft::ia3::Ia3Config::is_feedforward(ff, "bert.encoder.layer.0.intermediate.dense"));
}

TEST(Ia3Layer, DefaultTargetsAndShapesFollowPeft) {
  auto bert = oft_test::adapted("bert", "ia3", json::object());
  const auto s = shapes_of(*bert);
  const std::string l0 = "base_model.model.bert.encoder.layer.0.";
  EXPECT_EQ(s.at(l0 + "attention.self.key.ia3_l"), (engine::Shape{32, 1}));
  EXPECT_EQ(s.at(l0 + "attention.self.value.ia3_l"), (engine::Shape{32, 1}));
  EXPECT_EQ(s.at(l0 + "attention.output.dense.ia3_l"), (engine::Shape{1, 32}));  // the quirk: feed-forward too
  EXPECT_EQ(s.at(l0 + "output.dense.ia3_l"), (engine::Shape{1, 64}));
  EXPECT_EQ(s.size(), 8u);
  auto gpt2 = oft_test::adapted("gpt2", "ia3", json::object());
  const auto g = shapes_of(*gpt2);
  EXPECT_EQ(g.at("base_model.model.transformer.h.0.attn.c_attn.ia3_l"), (engine::Shape{96, 1}));
  EXPECT_EQ(g.at("base_model.model.transformer.h.0.mlp.c_proj.ia3_l"), (engine::Shape{1, 128}));
  EXPECT_TRUE(gpt2->adapter("default").config().to_json().at("fan_in_fan_out").get<bool>());
}

const json kRandom = {{"init_ia3_weights", false}};

TEST(Ia3Layer, GradientsMatchFiniteDifferences) { oft_test::expect_fd_grads("ia3", kRandom); }
TEST(Ia3Layer, OnlyTheAdapterTrains) { oft_test::expect_only_adapter_trains("ia3", json::object(), ".ia3_l."); }
TEST(Ia3Layer, MergeEqualsUnmergedAndUnmergeRestores) { oft_test::expect_merge_roundtrip("ia3", kRandom); }
TEST(Ia3Layer, SaveLoadRoundTrip) { oft_test::expect_save_load("ia3", kRandom); }

TEST(Ia3Layer, ZeroScaleRefusesMerge) {
  auto pm = oft_test::adapted("bert", "ia3", json::object());
  Tensor l = pm->trainable_parameters().front().second;
  engine::fill_(l.narrow(0, 0, 1), 0.0);
  EXPECT_THROW(pm->merge_adapter(), engine::ValueError);
}

// Two active adapters multiply their vectors: the same as one adapter holding the product.
TEST(Ia3Layer, SeveralAdaptersMultiply) {
  auto pm = oft_test::adapted("gpt2", "ia3", kRandom);
  pm->add_adapter("second", peft::make_config("ia3", kRandom), 5);
  pm->set_adapter({"default", "second"});
  const models::Batch batch = lora_test::tiny_batch("gpt2");
  const Tensor both = pm->forward(batch).logits.clone();
  const auto first = pm->adapter("default").trainable_tensors(), second = pm->adapter("second").trainable_tensors();
  for (size_t i = 0; i < first.size(); ++i) engine::copy_(first[i].second, first[i].second * second[i].second);
  pm->set_adapter({"default"});
  EXPECT_LT(oft_test::max_diff(pm->forward(batch).logits, both), 1e-5);
}

}  // namespace
