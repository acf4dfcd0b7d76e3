// Composition of site adapters (Stack, Average, Parallel) and LoRA's add_weighted_adapter
// (linear, cat, svd) against the definitions.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "peft/core/composition.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"
#include "peft/methods/lora/layer.h"
#include "test_bottleneck_util.h"

namespace {

using engine::Tensor;
using namespace bn_test;

const std::string kArch = "BertForSequenceClassification";

// Two live (non-identity) adapters "a" (Houlsby) and "b" (Pfeiffer) on a tiny BERT.
std::unique_ptr<peft::PeftModel> two_adapters() {
  auto pm = std::make_unique<peft::PeftModel>(tiny(kArch));
  pm->add_adapter("a", peft::make_config("houlsby"), 1);
  pm->add_adapter("b", peft::make_config("pfeiffer"), 2);
  engine::Generator gen(3);
  for (const char* name : {"a", "b"})  // large random weights: the adapters' effects are far from linear
    for (const auto& [k, t] : pm->adapter(name).trainable_tensors())
      engine::copy_(t, engine::normal(t.shape(), 0.0, 0.5, engine::DType::f32, gen));
  return pm;
}

Tensor logits_with(peft::PeftModel& pm, const std::vector<std::string>& active) {
  pm.set_adapter(active);
  return pm.forward(batch_for(kArch)).logits;
}

TEST(Composition, StackRunsTheAdaptersInTheGivenOrder) {
  auto pm = two_adapters();
  // Both active = their hooks in attachment order (a then b) = Stack(a, b).
  const Tensor ab = logits_with(*pm, {"a", "b"});
  pm->set_adapter({"a"});  // the composition ignores (and restores) the active set
  EXPECT_LT(max_abs_diff(peft::forward_stack(*pm, {"a", "b"}, batch_for(kArch)).logits, ab), 1e-6);
  const Tensor ba = peft::forward_stack(*pm, {"b", "a"}, batch_for(kArch)).logits;
  EXPECT_GT(max_abs_diff(ba, ab), 1e-6);  // order matters: the adapters are non-linear
  EXPECT_TRUE(bit_equal(pm->forward(batch_for(kArch)).logits, logits_with(*pm, {"a"})));  // hooks restored
}

TEST(Composition, AverageWithOneHotWeightsIsThatAdapter) {
  auto pm = two_adapters();
  const Tensor a = logits_with(*pm, {"a"}), b = logits_with(*pm, {"b"});
  EXPECT_LT(max_abs_diff(peft::forward_average(*pm, {"a", "b"}, {2.0, 0.0}, batch_for(kArch)).logits, a), 1e-6);
  EXPECT_LT(max_abs_diff(peft::forward_average(*pm, {"a", "b"}, {0.0, 1.0}, batch_for(kArch)).logits, b), 1e-6);
  const Tensor mixed = peft::forward_average(*pm, {"a", "b"}, {1.0, 1.0}, batch_for(kArch)).logits;
  EXPECT_GT(max_abs_diff(mixed, a), 1e-6);
  EXPECT_GT(max_abs_diff(mixed, b), 1e-6);
}

TEST(Composition, ParallelGivesEachAdapterItsOwnCopyOfTheBatch) {
  auto pm = two_adapters();
  const Tensor a = logits_with(*pm, {"a"}), b = logits_with(*pm, {"b"});
  auto outs = peft::forward_parallel(*pm, {"a", "b"}, batch_for(kArch));
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_LT(max_abs_diff(outs[0].logits, a), 1e-6);
  EXPECT_LT(max_abs_diff(outs[1].logits, b), 1e-6);
  // Gradients flow to both adapters through the one replicated forward pass.
  outs[0].loss.backward();
  for (const char* name : {"a", "b"})
    for (const auto& [k, t] : pm->adapter(name).trainable_tensors()) EXPECT_TRUE(t.grad().defined()) << name << " " << k;
}

TEST(Composition, OnlySiteAdaptersCompose) {
  auto pm = two_adapters();
  pm->add_adapter("lora", peft::make_config("lora"));
  EXPECT_THROW(peft::forward_stack(*pm, {"a", "lora"}, batch_for(kArch)), engine::ValueError);
  EXPECT_THROW(peft::forward_average(*pm, {"a", "b"}, {1.0}, batch_for(kArch)), engine::ValueError);
}

// ---- LoRA's add_weighted_adapter

// Two random (non-zero B) LoRA adapters on query/value, ranks 2 and `r2`.
std::unique_ptr<peft::PeftModel> two_loras(int64_t r2) {
  auto pm = std::make_unique<peft::PeftModel>(tiny(kArch));
  pm->add_adapter("x", peft::make_config("lora", {{"r", 2}, {"lora_alpha", 4}, {"init_lora_weights", false}}), 1);
  pm->add_adapter("y", peft::make_config("lora", {{"r", r2}, {"lora_alpha", 2}, {"init_lora_weights", false},
                                                  {"target_modules", {"query", "key"}}}), 2);
  return pm;
}

peft::lora::LoraLinear& layer(peft::PeftModel& pm, const std::string& path) {
  return dynamic_cast<peft::lora::LoraLinear&>(*pm.base().get(path));
}

const std::string kQuery = "bert.encoder.layer.0.attention.self.query";
const std::string kValue = "bert.encoder.layer.1.attention.self.value";

TEST(Composition, WeightedLoraCatIsExactlyTheWeightedSumOfDeltas) {
  auto pm = two_loras(3);
  peft::add_weighted_adapter(*pm, {"x", "y"}, {0.7, -1.5}, "cat", "cat");
  auto& q = layer(*pm, kQuery);
  const Tensor want = q.delta_weight("x") * 0.7 + q.delta_weight("y") * -1.5;
  EXPECT_EQ(q.settings("cat").r, 5);
  EXPECT_LT(max_abs_diff(q.delta_weight("cat"), want), 1e-5);
  // value is adapted by x only; key by y only: the union of targets, the missing source skipped.
  EXPECT_LT(max_abs_diff(layer(*pm, kValue).delta_weight("cat"), layer(*pm, kValue).delta_weight("x") * 0.7), 1e-5);
  EXPECT_TRUE(pm->base().find("bert.encoder.layer.0.attention.self.key") != nullptr);
  EXPECT_TRUE(pm->adapter("cat").trainable_tensors().empty());  // frozen, as PEFT
}

TEST(Composition, WeightedLoraLinearCombinesTheFactors) {
  auto pm = two_loras(2);
  peft::add_weighted_adapter(*pm, {"x", "y"}, {0.5, 2.0}, "lin", "linear");
  auto& q = layer(*pm, kQuery);
  const double cx = std::sqrt(0.5 * 2.0), cy = std::sqrt(2.0 * 1.0);  // √(w·α/r)
  const Tensor A = q.lora_A("x") * cx + q.lora_A("y") * cy, B = q.lora_B("x") * cx + q.lora_B("y") * cy;
  EXPECT_LT(max_abs_diff(q.delta_weight("lin"), engine::matmul(B, A)), 1e-5);
  EXPECT_THROW(peft::add_weighted_adapter(*two_loras(3), {"x", "y"}, {1, 1}, "bad", "linear"), engine::ValueError);
}

TEST(Composition, WeightedLoraSvdKeepsTheLeadingSingularDirections) {
  auto pm = two_loras(3);
  peft::add_weighted_adapter(*pm, {"x", "y"}, {1.0, 1.0}, "svd5", "svd", 5);  // rank ≥ 2 + 3: exact
  peft::add_weighted_adapter(*pm, {"x", "y"}, {1.0, 1.0}, "svd1", "svd", 1);
  auto& q = layer(*pm, kQuery);
  const Tensor want = q.delta_weight("x") + q.delta_weight("y");
  EXPECT_LT(max_abs_diff(q.delta_weight("svd5"), want), 1e-4);
  const double err1 = max_abs_diff(q.delta_weight("svd1"), want);
  EXPECT_GT(err1, 1e-4);  // rank 1 drops directions ...
  const Tensor sum_norm = engine::sum(want * want);
  const Tensor res_norm = engine::sum((q.delta_weight("svd1") - want) * (q.delta_weight("svd1") - want));
  EXPECT_LT(res_norm.item<double>(), sum_norm.item<double>());  // ... but keeps the leading one
}

}  // namespace
