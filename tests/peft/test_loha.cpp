// LoHa specifics: ΔW is the Hadamard product of the two low-rank products times α/r, the
// default init leaves outputs unchanged, and rank / module dropout act only in training.
#include "peft/methods/loha/layer.h"
#include "test_lora_helpers.h"

namespace {

using namespace lora_test;

TEST(Loha, DeltaWeightIsScaledHadamardOfTwoLowRankProducts) {
  peft::PeftModel pm(tiny_model("t5"));
  auto& ad = static_cast<peft::LayerAdapter&>(pm.add_adapter("default", peft::make_config("loha", {{"r", 2}, {"alpha", 3}, {"init_weights", false}})));
  auto& layer = static_cast<peft::loha::LohaLinear&>(*ad.layers().front().second);
  std::map<std::string, Tensor> f;
  for (const auto& [k, t] : layer.adapter_tensors("default")) f[k] = t;
  Tensor expected = engine::matmul(f["hada_w1_a"], f["hada_w1_b"]) * engine::matmul(f["hada_w2_a"], f["hada_w2_b"]) * 1.5;
  EXPECT_LT(max_diff(layer.delta_weight("default"), expected), 1e-6);
}

TEST(Loha, DefaultInitKeepsOutputsAndDropoutsOnlyTrain) {
  const models::Batch batch = tiny_batch("gpt2");
  peft::PeftModel pm(tiny_model("gpt2"));
  Tensor base = pm.forward(batch).logits.clone();
  pm.add_adapter("default", peft::make_config("loha", {{"r", 4}}));
  EXPECT_EQ(max_diff(pm.forward(batch).logits, base), 0.0);  // w2_b = 0

  peft::PeftModel noisy(tiny_model("gpt2"));
  noisy.add_adapter("default", peft::make_config("loha", {{"r", 4}, {"init_weights", false}, {"rank_dropout", 0.5}}));
  Tensor eval_out = noisy.forward(batch).logits.clone();
  EXPECT_EQ(max_diff(noisy.forward(batch).logits, eval_out), 0.0);  // eval: no dropout
  noisy.base().train();
  EXPECT_GT(max_diff(noisy.forward(batch).logits, eval_out), 1e-4);  // rows of ΔW dropped

  peft::PeftModel skipping(tiny_model("gpt2"));
  skipping.add_adapter("default", peft::make_config("loha", {{"r", 4}, {"init_weights", false}, {"module_dropout", 0.9}}));
  skipping.base().train();  // the model has no dropout of its own (p = 0)
  int skipped = 0;
  for (int i = 0; i < 20; ++i) skipped += max_diff(skipping.forward(batch).logits, base) == 0.0;
  EXPECT_GT(skipped, 5);  // about 18 of 20 forwards skip the adapter
  EXPECT_LT(skipped, 20);
}

}  // namespace
