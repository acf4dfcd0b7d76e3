// BOFT: butterfly permutations (against values printed by peft 0.11.1's algorithm), then the
// layer on tiny BERT / GPT-2 (Conv1D) / T5 with one and two butterfly factors: gradients,
// training, merge, files and peft's size checks.
#include <gtest/gtest.h>

#include "peft/methods/boft/butterfly.h"
#include "test_oft_common.h"

namespace {

using engine::Tensor;
using oft_test::json;

TEST(BoftButterfly, PermutationsMatchPeft) {
  // peft: block_butterfly_perm(16, 4, 2, 1) and (16, 2, 2, 1) — BOFT's two factors for
  // in = 16, block size 4, boft_n_butterfly_factor = 2.
  std::vector<int64_t> identity(16);
  for (int64_t i = 0; i < 16; ++i) identity[i] = i;
  EXPECT_EQ(peft::boft::block_butterfly_perm(16, 4, 2, 1), identity);
  EXPECT_EQ(peft::boft::block_butterfly_perm(16, 2, 2, 1),
            (std::vector<int64_t>{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}));
  EXPECT_EQ(peft::boft::block_butterfly_perm(16, 2, 2, 0), identity);  // one factor: no permutation
  const std::vector<int64_t> perm = peft::boft::block_butterfly_perm(16, 2, 2, 1);
  EXPECT_EQ(peft::boft::perm_from_matrix(peft::boft::perm_matrix(perm), "P"), perm);
  EXPECT_THROW(peft::boft::perm_from_matrix(engine::ones({2, 2}), "P"), engine::ValueError);
}

TEST(BoftLayer, ShapesAndChecksFollowPeft) {
  auto pm = oft_test::adapted("bert", "boft", {{"boft_n_butterfly_factor", 2}});
  std::map<std::string, engine::Shape> shapes;
  for (const auto& [key, t] : pm->adapter("default").file_tensors()) shapes[key.substr(key.rfind('.') + 1)] = t.shape();
  EXPECT_EQ(shapes["boft_R"], (engine::Shape{2, 8, 4, 4}));
  EXPECT_EQ(shapes["boft_s"], (engine::Shape{32, 1}));
  EXPECT_EQ(shapes["boft_P"], (engine::Shape{2, 32, 32}));
  EXPECT_THROW(peft::make_config("boft", {{"boft_block_num", 4}}), engine::ConfigError);  // size and num both set
  EXPECT_THROW(oft_test::adapted("bert", "boft", {{"boft_block_size", 5}}), engine::ConfigError);  // 32 % 5
  auto gpt2 = oft_test::adapted("gpt2", "boft", json::object());
  EXPECT_TRUE(gpt2->adapter("default").config().to_json().at("fan_in_fan_out").get<bool>());  // Conv1D
}

const json kRandom = {{"init_weights", false}};
const json kButterfly = {{"init_weights", false}, {"boft_n_butterfly_factor", 2}};

TEST(BoftLayer, GradientsMatchFiniteDifferences) {
  oft_test::expect_fd_grads("boft", kRandom);
  oft_test::expect_fd_grads("boft", kButterfly);
}

TEST(BoftLayer, OnlyTheAdapterTrains) { oft_test::expect_only_adapter_trains("boft", json::object(), ".boft_"); }

TEST(BoftLayer, MergeEqualsUnmergedAndUnmergeRestores) {
  oft_test::expect_merge_roundtrip("boft", kRandom);
  oft_test::expect_merge_roundtrip("boft", kButterfly);
}

TEST(BoftLayer, SaveLoadRoundTrip) { oft_test::expect_save_load("boft", kButterfly); }

// Two adapters: the rotations compose and the scales multiply; merging one keeps outputs.
TEST(BoftLayer, TwoAdaptersComposeAndMergeOneAtATime) {
  auto pm = oft_test::adapted("bert", "boft", kRandom);
  pm->add_adapter("second", peft::make_config("boft", kButterfly), 9);
  pm->set_adapter({"default", "second"});
  const models::Batch batch = lora_test::tiny_batch("bert");
  const Tensor both = pm->forward(batch).logits.clone();
  pm->set_adapter({"default"});
  EXPECT_GT(oft_test::max_diff(pm->forward(batch).logits, both), 1e-6);
  pm->set_adapter({"default", "second"});
  pm->merge_adapter({"default"});
  EXPECT_LT(oft_test::max_diff(pm->forward(batch).logits, both), 1e-5);
}

}  // namespace
