// AdaLoRA specifics: the orthogonality regulariser against a hand computation, PEFT's budget
// schedule at chosen steps, and a short training run whose rank allocation ends at the target
// budget, records rank_pattern and saves only the kept ranks (reloading gives the same outputs).
#include <cmath>
#include <filesystem>

#include "peft/methods/adalora/adapter.h"
#include "test_lora_helpers.h"

namespace {

namespace fs = std::filesystem;
using namespace lora_test;

peft::adalora::AdaLoraAdapter& add_adalora(peft::PeftModel& pm, const json& overrides) {
  return static_cast<peft::adalora::AdaLoraAdapter&>(pm.add_adapter("default", peft::make_config("adalora", overrides), 5));
}

// ‖M − I‖_F in double from the tensor's values, M = P·Pᵀ (rows) or Pᵀ·P (columns).
double orth_distance(const Tensor& p, bool rows) {
  const int64_t r = rows ? p.size(0) : p.size(1), n = rows ? p.size(1) : p.size(0);
  const std::vector<double> v = p.to_vector<double>();
  auto at = [&](int64_t i, int64_t k) { return rows ? v[i * n + k] : v[k * r + i]; };  // i-th vector, k-th entry
  double sq = 0;
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < r; ++j) {
      double dot = 0;
      for (int64_t k = 0; k < n; ++k) dot += at(i, k) * at(j, k);
      sq += (dot - (i == j)) * (dot - (i == j));
    }
  return std::sqrt(sq);
}

TEST(AdaLora, RegularizerIsHalfTheMeanOrthogonalityDistance) {
  peft::PeftModel pm(tiny_model("gpt2"));
  auto& ad = add_adalora(pm, {{"init_r", 4}, {"init_lora_weights", false}});
  double sum = 0;
  int count = 0;
  for (const auto& [key, t] : ad.trainable_tensors()) {
    const bool is_a = key.find(".lora_A") != std::string::npos, is_b = key.find(".lora_B") != std::string::npos;
    if (is_a || is_b) sum += orth_distance(t, /*rows=*/is_a), ++count;
  }
  ASSERT_EQ(count, 4);  // c_attn in 2 blocks, A and B each
  const double expected = 0.5 * sum / count;
  EXPECT_NEAR(ad.regularization_loss().item<double>(), expected, 1e-4 * expected);
  const models::ModelOutput out = pm.forward(tiny_batch("gpt2"));
  EXPECT_NEAR(out.loss.item<double>() - out.task_loss.item<double>(), expected, 1e-4 * expected);
}

TEST(AdaLora, FrozenAdapterAddsNoRegularizer) {
  peft::PeftModel pm(tiny_model("bert"));
  add_adalora(pm, {{"init_r", 4}});
  for (auto& [k, t] : pm.trainable_parameters()) t.requires_grad_(false);
  const models::ModelOutput out = pm.forward(tiny_batch("bert"));
  EXPECT_TRUE(out.loss.is_same(out.task_loss));
}

TEST(AdaLora, BudgetScheduleIsPeftsCubicDecrease) {
  peft::PeftModel pm(tiny_model("bert"));  // query, value in 2 layers: 4 triplet sets
  auto& ad = add_adalora(pm, {{"init_r", 4}, {"target_r", 2}, {"tinit", 2}, {"tfinal", 3}, {"total_step", 12}, {"deltaT", 2}});
  auto& alloc = ad.rank_allocator();
  EXPECT_EQ(alloc.init_budget(), 16);
  EXPECT_EQ(alloc.target_budget(), 8);
  using P = std::pair<int64_t, bool>;
  EXPECT_EQ(alloc.budget_schedule(0), P(16, false));
  EXPECT_EQ(alloc.budget_schedule(2), P(16, false));   // warm-up through tinit
  EXPECT_EQ(alloc.budget_schedule(3), P(13, false));   // int(8·(6/7)³ + 8); 3 % deltaT != 0
  EXPECT_EQ(alloc.budget_schedule(4), P(10, true));    // int(8·(5/7)³ + 8)
  EXPECT_EQ(alloc.budget_schedule(9), P(8, false));    // the cubic reaches the target at T - tfinal
  EXPECT_EQ(alloc.budget_schedule(10), P(8, true));    // final phase: fixed target, always masked
}

TEST(AdaLora, ShortRunEndsAtTargetBudgetAndSavesOnlyKeptRanks) {
  const models::Batch batch = tiny_batch("t5");
  peft::PeftModel pm(tiny_model("t5", 4));
  auto& ad = add_adalora(pm, {{"init_r", 4}, {"target_r", 2}, {"total_step", 8}, {"tfinal", 2}});
  engine::optim::AdamW opt(pm.trainable_parameters(), {.lr = 1e-2});
  for (int64_t step = 1; step <= 8; ++step) {
    pm.forward(batch).loss.backward();
    opt.step();
    pm.after_optimizer_step(step);  // before zero_grad: it reads the gradients
    opt.zero_grad();
  }
  const auto& config = static_cast<const peft::adalora::AdaLoraConfig&>(ad.config());
  ASSERT_TRUE(config.rank_pattern.is_object());
  const auto targets = static_cast<int64_t>(ad.layers().size());
  int64_t kept = 0, nonzero = 0;
  for (const auto& [key, mask] : config.rank_pattern.items())
    for (const auto& b : mask) kept += b.get<bool>();
  for (const auto& [key, t] : ad.trainable_tensors())
    if (key.find(".lora_E") != std::string::npos)
      for (float e : t.to_vector<float>()) nonzero += e != 0.f;
  EXPECT_EQ(config.rank_pattern.size(), static_cast<size_t>(targets));
  EXPECT_EQ(kept, 2 * targets);
  EXPECT_EQ(nonzero, 2 * targets);

  const fs::path dir = fs::path(::testing::TempDir()) / "adalora_ranks";
  fs::remove_all(dir);
  pm.save_pretrained(dir);
  int64_t saved_ranks = 0;
  for (const auto& [key, t] : peft::read_adapter_weights(dir))
    if (key.find(".lora_E") != std::string::npos) saved_ranks += t.size(0);
  EXPECT_EQ(saved_ranks, 2 * targets);
  peft::PeftModel fresh(tiny_model("t5", 4));
  fresh.load_adapter(dir);
  EXPECT_LT(max_diff(fresh.forward(batch).logits, pm.forward(batch).logits), 1e-6);
  fs::remove_all(dir);
}

TEST(AdaLora, AllocationNeedsTotalStepAndGradients) {
  peft::PeftModel pm(tiny_model("bert"));
  add_adalora(pm, {{"init_r", 4}});
  EXPECT_THROW(pm.after_optimizer_step(1), engine::ConfigError);  // total_step unset
  peft::PeftModel pm2(tiny_model("bert"));
  add_adalora(pm2, {{"init_r", 4}, {"total_step", 10}});
  EXPECT_THROW(pm2.after_optimizer_step(1), engine::ValueError);  // no gradients yet
  EXPECT_THROW(peft::make_config("adalora", {{"use_dora", true}}), engine::ConfigError);
}

}  // namespace
