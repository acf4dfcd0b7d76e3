// Compacter / Compacter++: the PHM layer's Kronecker sum against a hand-expanded case and
// finite differences, one shared rule per adapter, placement, training and save → load.
#include <filesystem>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/optim/adamw.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"
#include "peft/methods/compacter/adapter.h"
#include "peft/methods/compacter/phm.h"
#include "test_bottleneck_util.h"

namespace {

using engine::Tensor;
using namespace bn_test;
using peft::compacter::CompacterAdapter;
using peft::compacter::CompacterConfig;
using peft::compacter::PhmLayer;

// rf 4 on hidden 32: bottleneck 8, divisible by phm_dim 4.
std::shared_ptr<CompacterConfig> cfg(const std::string& preset, nlohmann::json extra = nlohmann::json::object()) {
  extra["reduction_factor"] = 4;
  return std::static_pointer_cast<CompacterConfig>(peft::make_config(preset, extra));
}

TEST(Compacter, KroneckerSumMatchesTheDefinition) {
  // n = 2: H = A0 ⊗ B0 + A1 ⊗ B1, with 2x2 A's and 1x2 B's -> H [2, 4].
  Tensor A = engine::from_vector({1.f, 2.f, 3.f, 4.f, 0.f, 1.f, -1.f, 0.f}, {2, 2, 2});
  Tensor B = engine::from_vector({1.f, -1.f, 2.f, 5.f}, {2, 1, 2});
  // A0⊗B0 = [[1,-1,2,-2],[3,-3,4,-4]]; A1⊗B1 = [[0,0,2,5],[-2,-5,0,0]]
  Tensor want = engine::from_vector({1.f, -1.f, 4.f, 3.f, 1.f, -8.f, 4.f, -4.f}, {2, 4});
  EXPECT_EQ(max_abs_diff(PhmLayer::kron_sum(A, B), want), 0.0);
}

TEST(Compacter, PhmLayerGradientsMatchFiniteDifferences) {
  CompacterConfig c;
  c.phm_dim = 2, c.phm_rank = 2, c.shared_phm_rule = false;
  engine::Generator gen(2);
  PhmLayer layer(c, 4, 6, Tensor{}, gen);
  for (const auto& [n, t] : std::vector<std::pair<std::string, Tensor>>(layer.own_parameters())) {
    Tensor& p = layer.param(n);
    p = engine::to_dtype(p.detach() + engine::normal(p.shape(), 0.0, 0.5, engine::DType::f32, gen), engine::DType::f64);
    p.requires_grad_(true);
  }
  Tensor x = engine::normal({3, 4}, 0.0, 1.0, engine::DType::f64, gen);
  Tensor w = engine::normal({3, 6}, 0.0, 1.0, engine::DType::f64, gen);
  auto loss = [&] { return engine::sum(layer.forward(x) * w).item<double>(); };
  engine::sum(layer.forward(x) * w).backward();
  for (const auto& [name, p] : layer.named_parameters()) {
    double* v = p.data<double>();
    const Tensor g = p.grad();
    ASSERT_TRUE(g.defined()) << name;
    for (int64_t i = 0; i < p.numel(); i += 3) {
      const double x0 = v[i], eps = 1e-6;
      v[i] = x0 + eps;
      const double up = loss();
      v[i] = x0 - eps;
      const double down = loss();
      v[i] = x0;
      EXPECT_NEAR(g.data<double>()[i], (up - down) / (2 * eps), 1e-6) << name << "[" << i << "]";
    }
  }
}

TEST(Compacter, PlacementSharedRuleTrainingAndRoundTrip) {
  const auto dir = std::filesystem::temp_directory_path() / "peft_compacter_roundtrip";
  for (const auto& arch : archs()) {
    auto model = tiny(arch);
    const auto base = snapshot(*model);
    peft::PeftModel pm(model);
    auto& plus = static_cast<CompacterAdapter&>(pm.add_adapter("default", cfg("compacter++"), 3));
    auto& full = static_cast<CompacterAdapter&>(pm.add_adapter("full", cfg("compacter"), 4));
    EXPECT_EQ(full.modules().size(), 2 * plus.modules().size()) << arch;  // Houlsby vs Pfeiffer placement
    // One phm_rule for the whole adapter, listed once; W_left [4, 32/4, 1] on the down projection.
    int rules = 0;
    for (const auto& [k, t] : plus.file_tensors()) {
      rules += k.find("phm_rule") != std::string::npos;
      if (k.find("adapter_down.W_left") != std::string::npos) EXPECT_EQ(t.shape(), (engine::Shape{4, 8, 1})) << k;
    }
    EXPECT_EQ(rules, 1) << arch;

    engine::optim::AdamW opt(pm.trainable_parameters(), {.lr = 1e-2});
    const Tensor rule0 = plus.file_tensors()[0].second.clone();
    for (int step = 0; step < 2; ++step) {
      engine::reset_counters();
      pm.forward(batch_for(arch)).loss.backward();
      // One dW (the Kronecker weight H) per PHM layer: two per site, none for the base.
      EXPECT_EQ(engine::counters().backward_count("linear.dw"), int64_t(2 * plus.modules().size())) << arch;
      opt.step();
      opt.zero_grad();
    }
    EXPECT_GT(max_abs_diff(plus.file_tensors()[0].second, rule0), 0) << arch;  // the shared rule trains
    for (const auto& [k, t] : model->state_dict()) EXPECT_TRUE(bit_equal(t, base.at(k))) << k;

    std::filesystem::remove_all(dir);
    pm.save_pretrained(dir, {"default"});
    const Tensor want = pm.forward(batch_for(arch)).logits;
    peft::PeftModel fresh(tiny(arch));
    fresh.load_adapter(dir);
    EXPECT_TRUE(bit_equal(fresh.forward(batch_for(arch)).logits, want)) << arch;
  }
  std::filesystem::remove_all(dir);
}

TEST(Compacter, IndivisibleSizesAreAConfigError) {
  peft::PeftModel pm(tiny("GPT2LMHeadModel"));
  auto c = std::static_pointer_cast<CompacterConfig>(peft::make_config("compacter++"));  // rf 32: bottleneck 1
  try {
    pm.add_adapter("default", c);
    FAIL() << "expected a ConfigError";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("phm_dim"), std::string::npos) << e.what();
  }
}

}  // namespace
