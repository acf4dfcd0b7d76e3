// OFT: the Cayley op and batched inverse (gradchecked in f64), block-diagonal products, then
// the layer on tiny BERT / GPT-2 (Conv1D) / T5: gradients, training, merge, files, COFT.
#include <gtest/gtest.h>

#include "engine/autograd/gradcheck.h"
#include "peft/methods/oft/cayley.h"
#include "peft/methods/oft/layer.h"
#include "test_oft_common.h"

namespace {

using engine::DType;
using engine::Tensor;
using oft_test::json;

Tensor leaf64(const engine::Shape& shape, uint64_t seed, double scale = 0.3) {
  engine::Generator gen(seed);
  return (engine::randn(shape, DType::f64, gen) * scale).detach().requires_grad_();
}

TEST(OftCayley, InverseAndCayleyPassGradcheck) {
  const Tensor a = (engine::to_dtype(peft::oft::eye(4), DType::f64) * 2.0 + leaf64({3, 4, 4}, 1)).detach().requires_grad_();
  auto inv = engine::autograd::gradcheck([](const std::vector<Tensor>& x) { return peft::oft::batched_inverse(x[0]); }, {a});
  EXPECT_TRUE(inv.ok) << inv.message;
  auto cay = engine::autograd::gradcheck([](const std::vector<Tensor>& x) { return peft::oft::cayley(x[0]); }, {leaf64({2, 5, 5}, 2)});
  EXPECT_TRUE(cay.ok) << cay.message;
}

TEST(OftCayley, BlocksAreOrthogonalAndInverseIsExact) {
  const Tensor a = leaf64({3, 4, 4}, 3).detach();
  const Tensor q = peft::oft::cayley(a);
  const Tensor qtq = engine::matmul(q.transpose(1, 2), q);
  EXPECT_LT(oft_test::max_diff(qtq, engine::expand(engine::to_dtype(peft::oft::eye(4), DType::f64), {3, 4, 4})), 1e-12);
  EXPECT_LT(oft_test::max_diff(peft::oft::cayley(engine::zeros({1, 3, 3}, DType::f64)),
                               engine::to_dtype(peft::oft::eye(3), DType::f64).unsqueeze(0)), 0.0 + 1e-15);
  EXPECT_THROW(peft::oft::batched_inverse(engine::zeros({1, 2, 2}, DType::f64)), engine::ValueError);
}

TEST(OftCayley, BlockDiagApplyMatchesDenseProductWithPadding) {
  const Tensor x = leaf64({2, 3, 7}, 4), blocks = leaf64({3, 3, 3}, 5);  // 3·3 = 9 > 7: padded
  const Tensor dense = peft::oft::block_diag(blocks.detach(), 7);          // [7, 7]
  EXPECT_LT(oft_test::max_diff(peft::oft::block_diag_apply(x.detach(), blocks.detach()), engine::matmul(x.detach(), dense)), 1e-12);
  auto r = engine::autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return peft::oft::block_diag_apply(in[0], in[1]); }, {x, blocks});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(OftLayer, ShapesFollowPeft) {
  auto pm = oft_test::adapted("gpt2", "oft", {{"r", 4}});
  for (const auto& [key, t] : pm->trainable_parameters()) EXPECT_EQ(t.shape(), (engine::Shape{4, 24, 24})) << key;  // c_attn out 96
  auto shared = oft_test::adapted("bert", "oft", {{"r", 4}, {"block_share", true}});
  for (const auto& [key, t] : shared->trainable_parameters()) EXPECT_EQ(t.shape(), (engine::Shape{1, 8, 8})) << key;
  EXPECT_THROW(peft::make_config("oft", {{"r", 0}}), engine::ConfigError);
}

TEST(OftLayer, GradientsMatchFiniteDifferences) {
  oft_test::expect_fd_grads("oft", {{"r", 4}, {"init_weights", false}});
  oft_test::expect_fd_grads("oft", {{"r", 4}, {"init_weights", false}, {"block_share", true}});
}

TEST(OftLayer, OnlyTheAdapterTrains) { oft_test::expect_only_adapter_trains("oft", {{"r", 4}}, ".oft_r."); }

TEST(OftLayer, MergeEqualsUnmergedAndUnmergeRestores) {
  oft_test::expect_merge_roundtrip("oft", {{"r", 4}, {"init_weights", false}});
  oft_test::expect_merge_roundtrip("oft", {{"r", 5}, {"init_weights", false}});  // 5 blocks of 7 > 32: sliced
}

TEST(OftLayer, SaveLoadRoundTrip) { oft_test::expect_save_load("oft", {{"r", 4}, {"init_weights", false}}); }

// COFT keeps every block within eps·b²/√r of zero (peft's _project_batch), in place.
TEST(OftLayer, CoftProjectsBlocksIntoTheEpsBall) {
  auto pm = oft_test::adapted("bert", "coft", {{"r", 4}, {"init_weights", false}, {"eps", 1e-3}});
  pm->forward(lora_test::tiny_batch("bert"));
  const double radius = 1e-3 * 8 * 8 / 2.0;  // b = 8, √4 = 2
  for (const auto& [key, t] : pm->trainable_parameters())
    for (int64_t k = 0; k < 4; ++k) {
      const Tensor block = t.select(0, k);
      EXPECT_LE(std::sqrt(engine::sum(block * block).item<double>()), radius * (1 + 1e-6)) << key;
    }
}

}  // namespace
