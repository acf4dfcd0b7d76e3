// The PEFT contract for AdaLoRA, VeRA, LoHa and LoKr on tiny random BERT, GPT-2 (Conv1D, i.e.
// fan_in_fan_out) and T5 models: gradients of every adapter tensor match finite differences,
// a few AdamW steps change only the adapter (the base stays bit-identical) while frozen base
// weights cost no weight-gradient kernel, merged == unmerged, unmerge restores the base, and
// save_pretrained -> load_adapter into a fresh model gives identical outputs.
#include <filesystem>

#include "test_lora_helpers.h"

namespace {

namespace fs = std::filesystem;
using namespace lora_test;

struct Method {
  std::string preset;
  json overrides;        // a non-identity start, so every tensor matters from step one
  int64_t dw_per_target;  // weight-gradient GEMMs each adapted layer runs in backward
};

const std::vector<Method>& all_methods() {
  static const std::vector<Method> methods = {
      // A·E and B are the two trainable linear weights (E is drawn in add(): PEFT's own
      // non-default init, all N(0,1), makes the orthogonality term huge for f32 differences).
      {"adalora", {{"init_r", 4}, {"target_r", 2}, {"total_step", 20}}, 2},
      // The projections are frozen: λ_d and λ_b get their gradients from products, no GEMM.
      {"vera", {{"r", 4}, {"init_weights", false}}, 0},
      // ΔW is one linear weight built from the factors.
      {"loha", {{"r", 4}, {"init_weights", false}}, 1},
      {"lokr", {{"r", 4}, {"init_weights", false}}, 1},
  };
  return methods;
}

const char* const kKinds[] = {"bert", "gpt2", "t5"};

peft::Adapter& add(peft::PeftModel& pm, const Method& m, uint64_t seed = 3) {
  peft::Adapter& ad = pm.add_adapter("default", peft::make_config(m.preset, m.overrides), seed);
  engine::Generator gen(seed);
  for (const auto& [key, t] : ad.trainable_tensors())
    if (key.size() > 7 && key.compare(key.size() - 7, 7, ".lora_E") == 0) engine::copy_(t, engine::randn(t.shape(), t.dtype(), gen));
  return ad;
}

bool is_adapter_name(const std::string& name) {
  for (const char* part : {".lora_", ".ranknum.", ".vera_", ".hada_", ".lokr_"})
    if (name.find(part) != std::string::npos) return true;
  return false;
}

TEST(LycorisVeraAdaloraContract, GradientsMatchFiniteDifferences) {
  for (const Method& m : all_methods())
    for (const std::string kind : {"gpt2", "bert"}) {  // smooth GELUs: T5's ReLU kinks spoil wide differences
      SCOPED_TRACE(m.preset + " on " + kind);
      peft::PeftModel pm(tiny_model(kind));
      peft::Adapter& ad = add(pm, m);
      const models::Batch batch = tiny_batch(kind);
      peft::NamedTensors tensors;
      for (const auto& [key, t] : ad.trainable_tensors())  // one layer's worth keeps it fast
        if (key.find(kind == "gpt2" ? "h.1." : "layer.1.") != std::string::npos) tensors.emplace_back(key, t);
      ASSERT_FALSE(tensors.empty());
      expect_fd_grads([&] { return pm.forward(batch).loss; }, tensors, /*eps=*/1e-3);
    }
}

TEST(LycorisVeraAdaloraContract, OnlyAdapterTensorsTrainAndFrozenWeightsCostNoGradientKernel) {
  for (const Method& m : all_methods())
    for (const std::string kind : kKinds) {
      SCOPED_TRACE(m.preset + " on " + kind);
      peft::PeftModel pm(tiny_model(kind));
      peft::Adapter& ad = add(pm, m);
      const auto base_before = snapshot(pm.base());
      std::map<std::string, Tensor> trainable_before, frozen_before;  // frozen: VeRA's projections
      for (const auto& [k, t] : ad.trainable_tensors()) trainable_before[k] = t.clone();
      for (const auto& [k, t] : ad.file_tensors())
        if (!t.requires_grad()) frozen_before[k] = t.clone();
      engine::optim::AdamW opt(pm.trainable_parameters(), {.lr = 1e-2});
      const models::Batch batch = tiny_batch(kind);
      const auto targets = static_cast<int64_t>(static_cast<peft::LayerAdapter&>(ad).layers().size());
      for (int64_t step = 1; step <= 3; ++step) {
        opt.zero_grad();
        Tensor loss = pm.forward(batch).loss;
        engine::reset_counters();
        loss.backward();
        EXPECT_EQ(engine::counters().backward_count("linear.dw"), m.dw_per_target * targets);
        opt.step();
        pm.after_optimizer_step(step);  // AdaLoRA reads the gradients here
      }
      for (const auto& [name, t] : snapshot(pm.base()))
        if (!is_adapter_name(name)) EXPECT_TRUE(bit_identical(t, base_before.at(name))) << name;
      for (const auto& [k, t] : ad.trainable_tensors()) EXPECT_GT(max_diff(t, trainable_before.at(k)), 0.0) << k;
      for (const auto& [k, t] : ad.file_tensors())
        if (frozen_before.count(k)) EXPECT_TRUE(bit_identical(t, frozen_before.at(k))) << k;
    }
}

TEST(LycorisVeraAdaloraContract, MergedEqualsUnmergedAndUnmergeRestoresTheBase) {
  for (const Method& m : all_methods())
    for (const std::string kind : kKinds) {
      SCOPED_TRACE(m.preset + " on " + kind);
      peft::PeftModel pm(tiny_model(kind));
      add(pm, m);
      const auto before = snapshot(pm.base());
      const models::Batch batch = tiny_batch(kind);
      const Tensor unmerged = pm.forward(batch).logits.clone();
      {
        auto disabled = pm.disable_adapters();  // the adapter really changes the output
        EXPECT_GT(max_diff(pm.forward(batch).logits, unmerged), 1e-6);
      }
      pm.merge_adapter();
      EXPECT_LT(max_diff(pm.forward(batch).logits, unmerged), 1e-5);
      pm.unmerge_adapter();
      for (const auto& [name, t] : snapshot(pm.base())) EXPECT_LT(max_diff(t, before.at(name)), 1e-6) << name;
      EXPECT_LT(max_diff(pm.forward(batch).logits, unmerged), 1e-5);
    }
}

TEST(LycorisVeraAdaloraContract, SaveThenLoadGivesIdenticalOutputs) {
  const fs::path dir = fs::path(::testing::TempDir()) / "d1_save_load";
  for (const Method& m : all_methods())
    for (const std::string kind : kKinds) {
      SCOPED_TRACE(m.preset + " on " + kind);
      fs::remove_all(dir);
      const models::Batch batch = tiny_batch(kind);
      peft::PeftModel trained(tiny_model(kind, 7));
      add(trained, m);
      const Tensor expected = trained.forward(batch).logits.clone();
      trained.save_pretrained(dir);
      peft::PeftModel fresh(tiny_model(kind, 7));
      fresh.load_adapter(dir);
      json saved = fresh.adapter("default").config().to_json(), original = trained.adapter("default").config().to_json();
      saved.erase("inference_mode"), original.erase("inference_mode");  // loaded frozen
      EXPECT_EQ(saved, original);
      EXPECT_LT(max_diff(fresh.forward(batch).logits, expected), 1e-7);
    }
  fs::remove_all(dir);
}

}  // namespace
