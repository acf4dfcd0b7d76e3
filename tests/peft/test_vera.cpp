// VeRA specifics: one pair of frozen projections per adapter, sized to the largest target and
// shared (same storage) by every layer, saved under base_model.vera_A / vera_B; ΔW uses the
// slices of each layer's shape; save_projection = false is refused with the reason.
#include "peft/methods/vera/adapter.h"
#include "peft/methods/vera/layer.h"
#include "test_lora_helpers.h"

namespace {

using namespace lora_test;

TEST(Vera, ProjectionsAreSharedAndSizedToTheLargestTarget) {
  peft::PeftModel pm(tiny_model("gpt2"));  // c_attn 32 -> 96, mlp.c_proj 128 -> 32 (both Conv1D)
  auto& ad = static_cast<peft::vera::VeraAdapter&>(
      pm.add_adapter("default", peft::make_config("vera", {{"r", 4}, {"target_modules", {"c_attn", "mlp.c_proj"}}})));
  EXPECT_EQ(ad.vera_A().shape(), (engine::Shape{4, 128}));
  EXPECT_EQ(ad.vera_B().shape(), (engine::Shape{96, 4}));
  EXPECT_FALSE(ad.vera_A().requires_grad());
  std::map<std::string, Tensor> files;
  for (const auto& [k, t] : ad.file_tensors()) files[k] = t;
  EXPECT_TRUE(files.at("base_model.vera_A").is_same(ad.vera_A()));
  EXPECT_EQ(files.at("base_model.model.transformer.h.0.mlp.c_proj.vera_lambda_b").shape(), (engine::Shape{32}));
  EXPECT_EQ(files.at("base_model.model.transformer.h.0.attn.c_attn.vera_lambda_d").shape(), (engine::Shape{4}));
  EXPECT_EQ(ad.trainable_tensors().size(), 8u);  // λ_b and λ_d of 4 layers; projections frozen
  EXPECT_TRUE(static_cast<const peft::vera::VeraConfig&>(ad.config()).fan_in_fan_out);  // Conv1D, as PEFT

  // New projection values reach every layer (they share the storage).
  const models::Batch batch = tiny_batch("gpt2");
  for (auto& [k, t] : ad.trainable_tensors()) engine::copy_(t, engine::full(t.shape(), 0.5));
  const Tensor before = pm.forward(batch).logits.clone();
  engine::copy_(ad.vera_A(), ad.vera_A() * 2.0);
  EXPECT_GT(max_diff(pm.forward(batch).logits, before), 1e-4);
}

TEST(Vera, DeltaWeightUsesEachLayersSlices) {
  peft::PeftModel pm(tiny_model("t5"));
  auto& ad = static_cast<peft::vera::VeraAdapter&>(
      pm.add_adapter("default", peft::make_config("vera", {{"r", 3}, {"target_modules", {"wi", "wo"}}, {"init_weights", false}})));
  for (const auto& [path, tuner] : ad.layers()) {
    auto& layer = static_cast<peft::vera::VeraLinear&>(*tuner);
    std::map<std::string, Tensor> t;
    for (const auto& [k, v] : layer.adapter_tensors("default")) t[k] = v;
    Tensor a = ad.vera_A().narrow(1, 0, layer.in_features()), b = ad.vera_B().narrow(0, 0, layer.out_features());
    Tensor expected = engine::matmul(engine::unsqueeze(t["vera_lambda_b"], 1) * b, engine::unsqueeze(t["vera_lambda_d"], 1) * a);
    EXPECT_LT(max_diff(layer.delta_weight("default"), expected), 1e-6) << path;
  }
}

TEST(Vera, DefaultInitKeepsOutputsAndUnsavedProjectionsAreRefused) {
  const models::Batch batch = tiny_batch("bert");
  peft::PeftModel pm(tiny_model("bert"));
  const Tensor base = pm.forward(batch).logits.clone();
  pm.add_adapter("default", peft::make_config("vera", {{"r", 4}}));
  EXPECT_EQ(max_diff(pm.forward(batch).logits, base), 0.0);  // λ_b = 0
  try {
    peft::make_config("vera", {{"save_projection", false}});
    FAIL() << "save_projection=false was accepted";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("save_projection"), std::string::npos);
  }
}

}  // namespace
