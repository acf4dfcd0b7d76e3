// LoRA's layers and options: gradients by finite differences (Linear in both layouts,
// Embedding, DoRA), the init variants, rsLoRA scaling, dropout, the bias options, training
// touches only the adapter, merge/unmerge (DoRA too), save -> load, and the kernel counters'
// proof that frozen base weights cost no gradient kernel.
#include <filesystem>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "peft/methods/lora/init.h"
#include "peft/methods/lora/layer.h"
#include "test_lora_helpers.h"

namespace {
namespace fs = std::filesystem;
namespace nn = engine::nn;
using engine::Tensor;
using peft::lora::LoraLinear;
using peft::lora::LoraSettings;
using namespace lora_test;

// A LoraLinear over a random Linear [in=16 -> out=8] with one adapter whose B is random too.
std::shared_ptr<LoraLinear> random_lora_linear(engine::WeightLayout layout, LoraSettings s) {
  engine::Generator gen(3);
  auto base = std::make_shared<nn::Linear>(16, 8, true, layout);
  base->reset_parameters(gen);
  auto layer = std::make_shared<LoraLinear>(base);
  layer->add_adapter("a", s, gen);
  peft::lora::random_init(*layer, "a");
  layer->set_active("a", true);
  layer->eval();
  return layer;
}

Tensor cotangent(const engine::Shape& shape) {
  engine::Generator gen(11);
  return engine::randn(shape, engine::DType::f32, gen);
}

TEST(LoraLinear, GradientsMatchFiniteDifferencesInBothLayouts) {
  for (auto layout : {engine::WeightLayout::out_in, engine::WeightLayout::in_out}) {
    auto layer = random_lora_linear(layout, {.r = 4, .scaling = 2.0, .lora_bias = true});
    engine::Generator gen(5);
    Tensor x = engine::randn({2, 3, 16}, engine::DType::f32, gen).requires_grad_(true);
    Tensor cot = cotangent({2, 3, 8});
    auto loss = [&] { return engine::sum(layer->forward(x) * cot); };
    Tensor bias_b = layer->adapter_tensors("a")[2].second;  // lora_B.bias
    expect_fd_grads(loss, {{"x", x}, {"A", layer->lora_A("a")}, {"B", layer->lora_B("a")}, {"B.bias", bias_b}});
    EXPECT_FALSE(layer->base_linear()->weight().grad().defined()) << "the base weight is frozen";
  }
}

TEST(LoraEmbedding, GradientsMatchFiniteDifferences) {
  engine::Generator gen(3);
  auto base = std::make_shared<nn::Embedding>(20, 8);
  base->reset_parameters(gen);
  auto layer = std::make_shared<peft::lora::LoraEmbedding>(base);
  layer->add_adapter("a", {.r = 4, .scaling = 0.5}, gen);
  peft::lora::random_init(*layer, "a");
  layer->set_active("a", true);
  Tensor ids = engine::from_vector(std::vector<int64_t>{1, 4, 4, 19, 0, 7}, {2, 3});
  Tensor cot = cotangent({2, 3, 8});
  auto tensors = layer->adapter_tensors("a");
  expect_fd_grads([&] { return engine::sum(layer->forward(ids) * cot); }, tensors);
}

// DoRA treats ||W + sBA|| as a constant (PEFT detaches it), so the reference for A and B is
// the same formula with the norm frozen at its current value.
TEST(LoraLinear, DoraGradientsMatchTheDetachedNormFormula) {
  auto layer = random_lora_linear(engine::WeightLayout::in_out, {.r = 4, .scaling = 2.0, .use_dora = true});
  engine::Generator gen(5);
  Tensor x = engine::randn({2, 3, 16}, engine::DType::f32, gen).requires_grad_(true);
  Tensor cot = cotangent({2, 3, 8});
  Tensor m = layer->adapter_tensors("a")[2].second;  // lora_magnitude_vector [8]
  expect_fd_grads([&] { return engine::sum(layer->forward(x) * cot); }, {{"x", x}, {"m", m}});

  Tensor w = layer->base_weight_out_in().detach();  // [out,in]
  Tensor bias = layer->base_linear()->bias().detach();
  Tensor norm;
  {
    engine::NoGradGuard no_grad;
    norm = engine::sqrt(engine::sum(engine::pow(w + layer->delta_weight("a"), 2.0), {1}));  // [8], frozen
  }
  Tensor A = layer->lora_A("a"), B = layer->lora_B("a");
  auto reference = [&] {
    Tensor merged = w + engine::matmul(B, A) * 2.0;                                        // [out,in]
    Tensor y = engine::linear(x, engine::unsqueeze(m / norm, 1) * merged, bias);           // [2,3,8]
    return engine::sum(y * cot);
  };
  auto ours = [&] { return engine::sum(layer->forward(x) * cot); };
  for (Tensor t : {A, B}) {
    t.zero_grad();
    ours().backward();
    Tensor g = t.grad().clone();
    t.zero_grad();
    reference().backward();
    EXPECT_LT(max_diff(g, t.grad()), 1e-4);
  }
  expect_fd_grads(reference, {{"A", A}, {"B", B}});  // the reference itself is right
}

TEST(LoraInit, DefaultKeepsOutputsGaussianDrawsAFalseChangesOutputs) {
  const models::Batch batch = tiny_batch("bert");
  auto base = tiny_model("bert");
  const Tensor before = base->forward(batch).logits.clone();
  {
    peft::PeftModel pm(tiny_model("bert"));
    pm.add_adapter("default", lora_config({{"r", 4}}));
    EXPECT_LT(max_diff(pm.forward(batch).logits, before), 1e-6);
  }
  {
    peft::PeftModel pm(tiny_model("bert"));
    auto& ad = pm.add_adapter("default", lora_config({{"r", 4}, {"init_lora_weights", "gaussian"}}));
    EXPECT_LT(max_diff(pm.forward(batch).logits, before), 1e-6);
    for (auto& [key, t] : ad.file_tensors()) {
      if (key.find("lora_A") == std::string::npos) continue;
      const double std = std::sqrt(engine::var(t).item<double>());
      EXPECT_NEAR(std, 0.25, 0.06) << key;  // N(0, 1/r)
    }
  }
  {
    peft::PeftModel pm(tiny_model("bert"));
    pm.add_adapter("default", lora_config({{"r", 4}, {"init_lora_weights", false}}));
    EXPECT_GT(max_diff(pm.forward(batch).logits, before), 1e-4);
  }
}

TEST(LoraConfig, RsLoraScalesByAlphaOverSqrtR) {
  peft::PeftModel pm(tiny_model("bert"));
  auto& ad = pm.add_adapter("default", lora_config({{"r", 4}, {"lora_alpha", 8}, {"init_lora_weights", false}}, "rslora"));
  auto& layers = static_cast<peft::LayerAdapter&>(ad).layers();
  auto& lin = static_cast<LoraLinear&>(*layers.at(0).second);
  EXPECT_DOUBLE_EQ(lin.settings("default").scaling, 4.0);  // 8 / √4, not 8 / 4
  Tensor expected = engine::matmul(lin.lora_B("default"), lin.lora_A("default")) * 4.0;
  EXPECT_LT(max_diff(lin.delta_weight("default"), expected), 1e-6);
}

TEST(LoraLinear, DropoutOnlyInTrainingMode) {
  auto layer = random_lora_linear(engine::WeightLayout::out_in, {.r = 4, .scaling = 1.0, .dropout = 0.5});
  engine::Generator gen(5);
  Tensor x = engine::randn({4, 16}, engine::DType::f32, gen);
  Tensor base = layer->base_layer().forward(x);
  Tensor expected = base + engine::linear(engine::linear(x, layer->lora_A("a")), layer->lora_B("a"));
  EXPECT_LT(max_diff(layer->forward(x), expected), 1e-5);  // eval: no dropout
  layer->train();
  Tensor y1 = layer->forward(x), y2 = layer->forward(x);
  EXPECT_GT(max_diff(y1, expected), 1e-3);
  EXPECT_GT(max_diff(y1, y2), 1e-3);  // a fresh mask per call
}

TEST(LoraConfig, BiasOptionsTrainAndSaveTheRightBiases) {
  auto keys_of = [](const peft::NamedTensors& ts) {
    std::vector<std::string> ks;
    for (const auto& [k, t] : ts)
      if (k.find(".bias") != std::string::npos && k.find("lora_") == std::string::npos) ks.push_back(k);
    return ks;
  };
  {
    peft::PeftModel pm(tiny_model("bert"));
    auto& ad = pm.add_adapter("default", lora_config({{"target_modules", {"query", "value"}}, {"bias", "lora_only"}}));
    std::vector<std::string> expected;
    for (int l = 0; l < 2; ++l)
      for (const char* m : {"query", "value"})
        expected.push_back("base_model.model.bert.encoder.layer." + std::to_string(l) + ".attention.self." + m +
                           ".base_layer.bias");
    EXPECT_EQ(keys_of(ad.file_tensors()), expected);
    for (const auto& [k, t] : ad.trainable_tensors()) EXPECT_TRUE(t.requires_grad()) << k;
  }
  {
    peft::PeftModel pm(tiny_model("bert"));
    auto& ad = pm.add_adapter("default", lora_config({{"bias", "all"}}));
    int64_t biases = 0;
    for (const auto& [name, t] : pm.base().named_parameters())
      if (name.size() > 5 && name.substr(name.size() - 5) == ".bias" && name.find("lora_") == std::string::npos) {
        ++biases;
        EXPECT_TRUE(t.requires_grad()) << name;
      }
    EXPECT_EQ(int64_t(keys_of(ad.file_tensors()).size()), biases);
    pm.delete_adapter("default");
    for (const auto& [name, t] : pm.base().named_parameters()) EXPECT_FALSE(t.requires_grad()) << name;
  }
}

TEST(LoraConfig, LoraBiasAddsATrainableBiasOnB) {
  peft::PeftModel pm(tiny_model("gpt2"));
  auto& ad = pm.add_adapter("default", lora_config({{"lora_bias", true}}));
  int n = 0;
  for (const auto& [k, t] : ad.trainable_tensors())
    if (k.size() > 12 && k.substr(k.size() - 12) == ".lora_B.bias") {
      ++n;
      EXPECT_TRUE(t.requires_grad());
      EXPECT_EQ(t.shape(), (engine::Shape{96}));  // c_attn's out
    }
  EXPECT_EQ(n, 2);  // c_attn in 2 layers
}

// 5 AdamW steps on a loss through every model kind: adapter tensors move, the base does not
// by a single bit; the gradient kernels run only for the adapter's own Linear layers.
TEST(LoraTraining, OnlyAdapterTensorsChangeAndFrozenWeightsCostNoGradientKernel) {
  for (const std::string kind : {"bert", "gpt2", "t5"}) {
    peft::PeftModel pm(tiny_model(kind));
    auto& ad = pm.add_adapter("default", lora_config({{"r", 4}}));
    const auto base_before = snapshot(pm.base());
    std::map<std::string, Tensor> adapter_before;
    for (const auto& [k, t] : ad.file_tensors()) adapter_before[k] = t.clone();
    engine::optim::AdamW opt(pm.trainable_parameters(), {.lr = 1e-2});
    const models::Batch batch = tiny_batch(kind);
    const int64_t targets = int64_t(static_cast<peft::LayerAdapter&>(ad).layers().size());
    for (int step = 0; step < 5; ++step) {
      opt.zero_grad();
      Tensor loss = pm.forward(batch).loss;
      engine::reset_counters();
      loss.backward();
      EXPECT_EQ(engine::counters().backward_count("linear.dw"), 2 * targets) << kind;  // A and B per target
      opt.step();
    }
    for (const auto& [name, t] : snapshot(pm.base())) {
      const bool adapter_tensor = name.find(".lora_") != std::string::npos;
      if (!adapter_tensor) EXPECT_TRUE(bit_identical(t, base_before.at(name))) << kind << " " << name;
    }
    for (const auto& [k, t] : ad.file_tensors())
      EXPECT_GT(max_diff(t, adapter_before.at(k)), 0.0) << kind << " " << k;
  }
}

TEST(LoraMerge, MergedEqualsUnmergedAndUnmergeRestoresTheBase) {
  for (const std::string kind : {"bert", "gpt2"}) {
    for (bool dora : {false, true}) {
      peft::PeftModel pm(tiny_model(kind));
      pm.add_adapter("default", lora_config({{"init_lora_weights", false}, {"use_dora", dora}}));
      const auto before = snapshot(pm.base());
      const models::Batch batch = tiny_batch(kind);
      const Tensor unmerged = pm.forward(batch).logits.clone();
      pm.merge_adapter();
      EXPECT_LT(max_diff(pm.forward(batch).logits, unmerged), 1e-5) << kind << " dora " << dora;
      pm.unmerge_adapter();
      for (const auto& [name, t] : snapshot(pm.base()))
        EXPECT_LT(max_diff(t, before.at(name)), 1e-6) << kind << " dora " << dora << " " << name;
      EXPECT_LT(max_diff(pm.forward(batch).logits, unmerged), 1e-6);
    }
  }
}

TEST(LoraFiles, SaveThenLoadGivesIdenticalOutputs) {
  const fs::path dir = fs::path(::testing::TempDir()) / "lora_save_load";
  fs::remove_all(dir);
  for (const std::string kind : {"bert", "gpt2", "t5"}) {
    const models::Batch batch = tiny_batch(kind);
    peft::PeftModel trained(tiny_model(kind, 7));
    trained.add_adapter("default", lora_config({{"init_lora_weights", false}, {"use_dora", kind == "bert"}}));
    const Tensor expected = trained.forward(batch).logits.clone();
    trained.save_pretrained(dir / kind);
    peft::PeftModel fresh(tiny_model(kind, 7));
    fresh.load_adapter(dir / kind);
    EXPECT_LT(max_diff(fresh.forward(batch).logits, expected), 1e-7) << kind;
  }
  fs::remove_all(dir);
}

}  // namespace

// The fused forward (engine::lowrank_linear, the default for one plain adapter on a Linear)
// against the composite base(x) + s·B(A(dropout(x))): the same logits and gradients on every
// model kind, with LoRA dropout off (x_a is x: the shared dx buffer) and on (x_a = dropout(x),
// the same masks in both runs: two identically built models, each with its own generator).
TEST(LoraLinear, FusedForwardGivesTheCompositesLogitsAndGradients) {
  struct Restore {
    ~Restore() { peft::lora::set_fused_forward(true); }
  } restore;
  for (const std::string kind : {"bert", "gpt2", "t5"})
    for (double dropout : {0.0, 0.25}) {
      struct Run {
        Tensor logits;
        std::map<std::string, Tensor> tensors, grads;
        int64_t nodes = 0;
      };
      auto run = [&](bool fused) {
        peft::lora::set_fused_forward(fused);
        peft::PeftModel pm(tiny_model(kind));
        auto& ad = pm.add_adapter("default", lora_config({{"r", 4}, {"init_lora_weights", false},
                                                          {"lora_dropout", dropout}, {"target_modules", "all-linear"}}));
        if (dropout > 0) pm.base().train();  // the models' own dropouts are 0: only LoRA's acts
        engine::reset_counters();
        models::ModelOutput out = pm.forward(tiny_batch(kind));
        Run r{out.logits, {}, {}, engine::counters().nodes_recorded};
        out.loss.backward();
        for (const auto& [k, t] : ad.trainable_tensors()) r.tensors[k] = t.clone(), r.grads[k] = t.grad();
        return r;
      };
      const Run fused = run(true), composite = run(false);
      const std::string what = kind + " dropout " + std::to_string(dropout);
      EXPECT_LT(fused.nodes, composite.nodes) << what << ": the fused op did not run";
      EXPECT_LT(max_diff(fused.logits, composite.logits), 1e-5) << what;
      ASSERT_EQ(fused.grads.size(), composite.grads.size()) << what;
      for (const auto& [k, g] : composite.grads) {
        ASSERT_TRUE(bit_identical(fused.tensors.at(k), composite.tensors.at(k))) << what << " " << k;
        ASSERT_TRUE(g.defined() && fused.grads.at(k).defined()) << what << " " << k;
        EXPECT_LT(max_diff(fused.grads.at(k), g), 1e-5) << what << " " << k;
      }
    }
}
