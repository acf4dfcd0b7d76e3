// Diff pruning: hard-concrete sampling statistics, gradcheck of the phase-1 wrapper, the L0
// penalty, the magnitude switch to a fixed element mask, and save → load after it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "engine/autograd/gradcheck.h"
#include "peft/methods/diff_pruning/adapter.h"
#include "peft/methods/diff_pruning/hard_concrete.h"
#include "peft/methods/selective_common/entries.h"
#include "peft/test_selective_util.h"

namespace {

using namespace selective_test;
namespace dp = peft::diff_pruning;

TEST(HardConcrete, SamplingMatchesTheDistribution) {
  const int64_t n = 40000;
  for (double la : {-1.0, 0.0, 2.0}) {
    engine::Generator gen(3);
    Tensor log_alpha = engine::full({n}, la);
    std::vector<float> z = dp::hard_concrete_gate(log_alpha, engine::rand({n}, engine::DType::f32, gen)).to_vector<float>();
    double zeros = 0, ones = 0;
    for (float v : z) zeros += v == 0.0f, ones += v == 1.0f;
    // P(z ≠ 0) = sigmoid(log α − β log(−γ/ζ)); P(z = 1) = 1 − sigmoid(β logit((1−γ)/(ζ−γ)) − log α).
    const double p_nonzero = dp::prob_nonzero(engine::full({1}, la)).item<double>();
    const double t = (1 - dp::kGamma) / (dp::kZeta - dp::kGamma);
    const double p_one = 1 - 1 / (1 + std::exp(-(dp::kBeta * std::log(t / (1 - t)) - la)));
    EXPECT_NEAR(1 - zeros / n, p_nonzero, 0.01) << "log_alpha " << la;
    EXPECT_NEAR(ones / n, p_one, 0.01) << "log_alpha " << la;
  }
  // Test-time gate: clamp(sigmoid(log α)(ζ − γ) + γ, 0, 1).
  EXPECT_NEAR(dp::hard_concrete_gate(engine::full({1}, 0.0)).item<double>(), 0.5, 1e-6);
  EXPECT_EQ(dp::hard_concrete_gate(engine::full({1}, 5.0)).item<double>(), 1.0);
}

TEST(HardConcrete, GradcheckGateAndWrapper) {
  engine::Generator gen(5);
  Tensor u = engine::uniform({3, 4}, 0.25, 0.75, engine::DType::f64, gen);
  Tensor la = engine::uniform({3, 4}, -0.5, 0.5, engine::DType::f64, gen).requires_grad_(true);
  auto gate = engine::autograd::gradcheck([&](const std::vector<Tensor>& in) { return dp::hard_concrete_gate(in[0], u); }, {la});
  EXPECT_TRUE(gate.ok) << gate.message;

  // The wrapper in f64, eval mode (deterministic gates): d/dx, d/dw, d/dlog α.
  auto base = std::make_shared<engine::nn::Linear>(4, 3, true, engine::WeightLayout::out_in, engine::DType::f64);
  base->reset_parameters(gen);
  dp::DiffPruningLinear layer(base);
  layer.add_adapter("a", 0.0, 1);
  layer.set_active("a", true);
  layer.eval();
  Tensor w = engine::uniform({3, 4}, -1, 1, engine::DType::f64, gen).requires_grad_(true);
  Tensor l = engine::uniform({3, 4}, -0.5, 0.5, engine::DType::f64, gen).requires_grad_(true);
  Tensor x = engine::uniform({2, 4}, -1, 1, engine::DType::f64, gen).requires_grad_(true);
  auto check = engine::autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        layer.diff_w("a") = in[0];
        layer.log_alpha("a") = in[1];
        return layer.forward(in[2]);
      },
      {w, l, x});
  EXPECT_TRUE(check.ok) << check.message;
}

TEST(DiffPruning, PenaltyAndPhaseOneTrainsDenseDelta) {
  peft::PeftModel peft(tiny_model("bert"));
  auto& a = dynamic_cast<dp::DiffPruningAdapter&>(
      peft.add_adapter("default", peft::make_config("diff_pruning", {{"target_modules", {"query", "value"}}, {"l0_lambda", 1e-3}})));
  ASSERT_EQ(a.layers().size(), 4u);
  const double per_gate = dp::prob_nonzero(engine::full({1}, 5.0)).item<double>();
  EXPECT_NEAR(a.regularization_loss().item<double>(), 1e-3 * 4 * 32 * 32 * per_gate, 1e-6);
  models::ModelOutput out = peft.forward(tiny_batch("bert"));
  EXPECT_NEAR((out.loss - out.task_loss).item<double>(), a.regularization_loss().item<double>(), 1e-6);
  EXPECT_EQ(peft.trainable_parameters().size(), 8u);  // diff_w + diff_log_alpha per matrix
  EXPECT_FALSE(peft.adapter("default").merge_refusal().empty());
  // Frozen matrices run no dW; each wrapped one runs one (for W0 + δ, then into w and log α).
  engine::reset_counters();
  peft.forward(tiny_batch("bert")).loss.backward();
  EXPECT_EQ(engine::counters().backward_count("linear.dw"), 4);
}

TEST(DiffPruning, SwitchFixesTheTopMagnitudeEntriesThenTrainsOnlyThem) {
  peft::PeftModel peft(tiny_model("bert"));
  auto& a = dynamic_cast<dp::DiffPruningAdapter&>(peft.add_adapter(
      "default", peft::make_config("diff_pruning", {{"target_modules", {"query", "value"}}, {"fix_step", 3}, {"target_sparsity", 0.9}})));
  const auto base_state = snapshot(peft.base());  // wrapped names: ...query.base_layer.weight
  std::map<std::string, Tensor> deltas;
  {
    auto opt = train_steps(peft, tiny_batch("bert"), 2);
    EXPECT_FALSE(a.fixed());
    opt->zero_grad();
    peft.forward(tiny_batch("bert")).loss.backward();
    opt->step();
    for (const auto& [path, layer] : a.layers()) deltas[path + ".weight"] = layer->eval_delta("default");
    peft.after_optimizer_step(3);  // the switch
  }
  ASSERT_TRUE(a.fixed());
  EXPECT_TRUE(a.phase_changed());
  const int64_t total = 4 * 32 * 32, k = peft::selective::budget(0.1, total);
  EXPECT_EQ(a.num_trained_entries(), k);
  for (const auto& [n, t] : peft.base().named_parameters()) EXPECT_EQ(n.find("diff_"), std::string::npos) << n;
  // Kept entries hold θ0 + δ and have the largest |δ|; all others still θ0.
  float min_kept = INFINITY, max_dropped = 0;
  for (const auto& e : a.entries()) {
    const Tensor w0 = base_state.at(e.name.substr(0, e.name.size() - 7) + ".base_layer.weight");
    const std::vector<float> d = deltas.at(e.name).to_vector<float>();
    const std::vector<int64_t> idx = e.indices.to_vector<int64_t>();
    std::set<int64_t> kept(idx.begin(), idx.end());
    for (size_t i = 0; i < d.size(); ++i) {
      if (kept.count(int64_t(i))) min_kept = std::min(min_kept, std::abs(d[i]));
      else max_dropped = std::max(max_dropped, std::abs(d[i]));
    }
    Tensor expect = engine::to_dtype(w0, engine::DType::f32);
    peft::selective::put_flat_(expect, e.indices, peft::selective::take_flat(w0, e.indices) + peft::selective::take_flat(deltas.at(e.name), e.indices));
    EXPECT_TRUE(bit_identical(e.param, expect)) << e.name;
  }
  EXPECT_GE(min_kept, max_dropped);
  EXPECT_EQ(a.regularization_loss().defined(), false);
  // Phase 2: a fresh optimizer over the masked W; only the kept entries move.
  const auto before = snapshot(peft.base());
  auto opt = train_steps(peft, tiny_batch("bert"), 2);
  EXPECT_EQ(opt->state_numel(), 2 * k);
  EXPECT_GT(expect_only_changed(before, snapshot(peft.base()), trained_entries(a)), 0);
  EXPECT_TRUE(peft.adapter("default").merge_refusal().empty());

  const auto dir = std::filesystem::temp_directory_path() / ("peft_diff_pruning_" + std::to_string(::getpid()));
  peft.save_pretrained(dir);
  peft::PeftModel fresh(tiny_model("bert"));
  fresh.load_adapter(dir);
  EXPECT_LE(max_diff(fresh.forward(tiny_batch("bert")).logits, peft.forward(tiny_batch("bert")).logits), 1e-6);
  std::filesystem::remove_all(dir);
}

}  // namespace
