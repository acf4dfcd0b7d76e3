// Bottleneck adapters (Houlsby, Pfeiffer, parallel): the module's math on a hand-built case,
// finite-difference gradients, identity at init, frozen base (bit-exact, and no dW kernel),
// save → load, merge refusal, KV-cached generation, on tiny BERT, GPT-2 and T5.
#include <filesystem>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/optim/adamw.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"
#include "peft/methods/bottleneck/adapter.h"
#include "test_bottleneck_util.h"

namespace {

using engine::Tensor;
using namespace bn_test;
using peft::bottleneck::BnConfig;
using peft::bottleneck::BottleneckAdapter;
using peft::bottleneck::BottleneckModule;

std::shared_ptr<BnConfig> bn(const std::string& preset, const nlohmann::json& overrides = nlohmann::json::object()) {
  return std::static_pointer_cast<BnConfig>(peft::make_config(preset, overrides));
}

// Sets a module's parameter (dotted name) to given values.
void set(engine::nn::Module& m, const std::string& child, const std::string& param, std::vector<float> v, engine::Shape s) {
  engine::copy_((child.empty() ? m : *m.get(child)).param(param), engine::from_vector(v, s));
}

TEST(Bottleneck, SequentialAndParallelMathOnAHandBuiltCase) {
  // hidden 2, bottleneck 1 (reduction_factor 2), relu: out = h + s·up(relu(down(h))).
  BnConfig c;
  c.reduction_factor = 2, c.scaling = 3.0;
  engine::Generator gen(1);
  BottleneckModule seq(c, 2, gen);
  set(seq, "adapter_down", "weight", {1.0f, -2.0f}, {1, 2});
  set(seq, "adapter_down", "bias", {0.5f}, {1});
  set(seq, "adapter_up", "weight", {2.0f, -1.0f}, {2, 1});
  set(seq, "adapter_up", "bias", {0.25f, 0.0f}, {2});
  Tensor h = engine::from_vector({1.0f, 0.0f, 0.0f, 1.0f}, {1, 2, 2});  // tokens (1,0) and (0,1)
  // token 1: down = 1.5, relu 1.5, up = (3.25, -1.5), ×3 = (9.75, -4.5) -> (10.75, -4.5)
  // token 2: down = -1.5, relu 0, up = (0.25, 0), ×3 = (0.75, 0) -> (0.75, 1)
  Tensor want = engine::from_vector({10.75f, -4.5f, 0.75f, 1.0f}, {1, 2, 2});
  EXPECT_LT(max_abs_diff(seq.forward(h, {}), want), 1e-6);

  c.is_parallel = true;  // the same bottleneck on the FFN input x, added to the FFN output h
  BottleneckModule par(c, 2, gen);
  par.load_state_dict(seq.state_dict());
  Tensor ffn_out = engine::from_vector({0.5f, 0.5f, -1.0f, 2.0f}, {1, 2, 2});
  EXPECT_LT(max_abs_diff(par.forward(ffn_out, h), ffn_out + (want - h)), 1e-6);
}

TEST(Bottleneck, GatedAndLearnedScalingGradientsMatchFiniteDifferences) {
  BnConfig c;
  c.reduction_factor = 4, c.use_gating = true, c.scaling = "learned", c.ln_before = true, c.ln_after = true;
  c.non_linearity = "swish";
  engine::Generator gen(3);
  BottleneckModule m(c, 8, gen);
  // f64 parameters, so central differences are exact to ~1e-9.
  for (const auto& [path, sub] : m.named_modules()) {
    std::vector<std::string> names;
    for (const auto& [n, t] : sub->own_parameters()) names.push_back(n);
    for (const auto& n : names) {
      Tensor& p = sub->param(n);
      p = engine::to_dtype(p.detach() + engine::normal(p.shape(), 0.0, 0.3, engine::DType::f32, gen), engine::DType::f64);
      p.requires_grad_(true);
    }
  }
  Tensor h = engine::normal({2, 3, 8}, 0.0, 1.0, engine::DType::f64, gen);
  Tensor w = engine::normal({2, 3, 8}, 0.0, 1.0, engine::DType::f64, gen);
  auto loss = [&] { return engine::sum(m.forward(h, {}) * w).item<double>(); };
  engine::sum(m.forward(h, {}) * w).backward();
  for (const auto& [name, p] : m.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    double* v = p.data<double>();
    for (int64_t i = 0; i < std::min<int64_t>(p.numel(), 5); ++i) {
      const double x = v[i], eps = 1e-6;
      v[i] = x + eps;
      const double up = loss();
      v[i] = x - eps;
      const double down = loss();
      v[i] = x;
      EXPECT_NEAR(engine::to_dtype(p.grad(), engine::DType::f64).data<double>()[i], (up - down) / (2 * eps), 1e-6)
          << name << "[" << i << "]";
    }
  }
}

TEST(Bottleneck, MamInitIsTheIdentityOnEveryArchitecture) {
  for (const auto& arch : archs()) {
    auto model = tiny(arch);
    const Tensor before = model->forward(batch_for(arch)).logits;
    peft::PeftModel pm(model);
    pm.add_adapter("default", bn("houlsby", {{"init_weights", "mam_adapter"}}), 5);
    pm.add_adapter("par", bn("parallel"), 6);
    pm.set_adapter({"default", "par"});
    EXPECT_TRUE(bit_equal(pm.forward(batch_for(arch)).logits, before)) << arch;
    // The "bert" init is not the identity (small random up-projection): the adapter is live.
    pm.add_adapter("bert_init", bn("houlsby"), 7);
    pm.set_adapter({"bert_init"});
    EXPECT_GT(max_abs_diff(pm.forward(batch_for(arch)).logits, before), 0) << arch;
  }
}

TEST(Bottleneck, SitesPerArchitectureAndLeaveOut) {
  struct Case {
    std::string arch;
    size_t houlsby;  // attention + FFN sites
  };
  for (const Case& k : {Case{"BertForSequenceClassification", 4}, Case{"GPT2LMHeadModel", 4},
                        Case{"T5ForConditionalGeneration", 8}}) {
    peft::PeftModel pm(tiny(k.arch));
    auto& a = static_cast<BottleneckAdapter&>(pm.add_adapter("default", bn("houlsby")));
    EXPECT_EQ(a.modules().size(), k.houlsby) << k.arch;
    auto& p = static_cast<BottleneckAdapter&>(pm.add_adapter("pf", bn("pfeiffer", {{"leave_out", {0}}})));
    EXPECT_EQ(p.modules().size(), k.houlsby / 2 - 1) << k.arch;  // FFN sites only, layer 0 left out
  }
  peft::PeftModel t5(tiny("T5ForConditionalGeneration"));
  auto& a = static_cast<BottleneckAdapter&>(t5.add_adapter("default", bn("pfeiffer", {{"leave_out", {1, 2}}})));
  ASSERT_EQ(a.modules().size(), 2u);  // encoder block 0 and decoder block 1 (= layer 3)
  EXPECT_EQ(a.modules()[0].first, "base_model.model.encoder.block.0.layer.1.output_adapter");
  EXPECT_EQ(a.modules()[1].first, "base_model.model.decoder.block.1.layer.2.output_adapter");
}

TEST(Bottleneck, TrainingTouchesOnlyTheAdapterAndRunsNoFrozenWeightGradient) {
  for (const auto& arch : archs()) {
    auto model = tiny(arch);
    const auto base = snapshot(*model);
    peft::PeftModel pm(model);
    auto& a = static_cast<BottleneckAdapter&>(pm.add_adapter("default", bn("houlsby"), 1));
    const auto trainable = pm.trainable_parameters();
    ASSERT_EQ(trainable.size(), a.modules().size() * 4);  // down/up weight and bias per site
    std::map<std::string, Tensor> start;
    for (const auto& [k, t] : trainable) start[k] = t.clone();

    engine::optim::AdamW opt(trainable, {.lr = 1e-2});
    for (int step = 0; step < 3; ++step) {
      engine::reset_counters();
      pm.forward(batch_for(arch)).loss.backward();
      // dW runs for the adapter's two Linears per site, never for a frozen base weight.
      EXPECT_EQ(engine::counters().backward_count("linear.dw"), int64_t(2 * a.modules().size())) << arch;
      opt.step();
      opt.zero_grad();
    }
    for (const auto& [k, t] : model->state_dict()) EXPECT_TRUE(bit_equal(t, base.at(k))) << arch << " " << k;
    for (const auto& [k, t] : trainable) EXPECT_GT(max_abs_diff(t, start[k]), 0) << arch << " " << k;
  }
}

TEST(Bottleneck, SaveLoadRoundTripGivesIdenticalOutputs) {
  const auto dir = std::filesystem::temp_directory_path() / "peft_bn_roundtrip";
  for (const auto& arch : archs()) {
    for (const char* preset : {"houlsby", "pfeiffer", "parallel"}) {
      std::filesystem::remove_all(dir);
      peft::PeftModel pm(tiny(arch));
      auto cfg = bn(preset, {{"use_gating", true}, {"scaling", "learned"}, {"init_weights", "bert"}, {"ln_after", true}});
      pm.add_adapter("default", cfg, 9);
      const Tensor want = pm.forward(batch_for(arch)).logits;
      pm.save_pretrained(dir);
      peft::PeftModel fresh(tiny(arch));
      fresh.load_adapter(dir);
      EXPECT_TRUE(bit_equal(fresh.forward(batch_for(arch)).logits, want)) << arch << " " << preset;
      EXPECT_EQ(fresh.num_trainable_parameters(), 0);  // loaded for inference
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Bottleneck, MergeIsRefusedWithTheReasonAndDeleteRestoresTheBase) {
  auto model = tiny("GPT2LMHeadModel");
  const Tensor base = model->forward(batch_for("GPT2LMHeadModel")).logits;
  peft::PeftModel pm(model);
  pm.add_adapter("default", bn("houlsby"), 2);
  try {
    pm.merge_adapter();
    FAIL() << "merge should throw";
  } catch (const engine::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("non-linear function of h"), std::string::npos) << e.what();
  }
  pm.delete_adapter("default");
  EXPECT_TRUE(bit_equal(pm.forward(batch_for("GPT2LMHeadModel")).logits, base));
  for (const char* site : {models::kSiteAfterAttention, models::kSiteAfterFFN})
    EXPECT_FALSE(model->get("transformer.h.0")->has_hooks(site)) << site;
}

TEST(Bottleneck, KvCachedDecodingEqualsFullRecomputation) {
  peft::PeftModel pm(tiny("GPT2LMHeadModel"));
  pm.add_adapter("default", bn("houlsby"), 4);
  pm.add_adapter("par", bn("parallel", {{"init_weights", "bert"}}), 5);
  pm.set_adapter({"default", "par"});
  models::Batch full;
  full.input_ids = engine::from_vector(std::vector<int64_t>{3, 9, 4, 17, 8, 2}, {1, 6});
  const Tensor want = pm.forward(full).logits;  // [1,6,V]
  models::KVCache cache;
  models::ForwardOptions opt;
  opt.cache = &cache;
  models::Batch step;
  step.input_ids = full.input_ids.narrow(1, 0, 3);
  Tensor got = pm.forward(step, opt).logits;
  EXPECT_LT(max_abs_diff(got, want.narrow(1, 0, 3)), 1e-5);
  for (int64_t t = 3; t < 6; ++t) {
    step.input_ids = full.input_ids.narrow(1, t, 1);
    got = pm.forward(step, opt).logits;  // [1,1,V]
    EXPECT_LT(max_abs_diff(got, want.narrow(1, t, 1)), 1e-5) << "position " << t;
  }
}

TEST(Bottleneck, ConfigErrorsNameTheField) {
  auto error_of = [](const nlohmann::json& overrides) -> std::string {
    try {
      peft::make_config("pfeiffer", overrides);
    } catch (const engine::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of({{"non_linearity", "softsign"}}).find("non_linearity"), std::string::npos);
  EXPECT_NE(error_of({{"init_weights", "xavier"}}).find("init_weights"), std::string::npos);
  EXPECT_NE(error_of({{"scaling", "channel"}}).find("scaling"), std::string::npos);
  EXPECT_NE(error_of({{"is_parallel", true}, {"mh_adapter", true}}).find("mh_adapter"), std::string::npos);
}

}  // namespace
