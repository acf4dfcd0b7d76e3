// Checks shared by the OFT, BOFT, (IA)³ and LN-tuning tests, on the tiny random models of
// test_lora_helpers.h: finite-difference gradients of the adapter tensors, training that
// moves only the adapter (with no weight-gradient kernel for frozen Linear layers), merge ==
// unmerged outputs with unmerge restoring the base, and save -> load round trips.
#pragma once
#include <filesystem>
#include <string>

#include "test_lora_helpers.h"

namespace oft_test {

using engine::Tensor;
using json = nlohmann::json;
using lora_test::max_diff;
using lora_test::snapshot;
using lora_test::tiny_batch;
using lora_test::tiny_model;

inline const std::vector<std::string>& kinds() {
  static const std::vector<std::string> k = {"bert", "gpt2", "t5"};
  return k;
}

// A PeftModel over a tiny `kind` model with one adapter from `preset` + `overrides`.
inline std::unique_ptr<peft::PeftModel> adapted(const std::string& kind, const std::string& preset, const json& overrides,
                                                uint64_t seed = 3) {
  auto pm = std::make_unique<peft::PeftModel>(tiny_model(kind, 1));
  pm->add_adapter("default", peft::make_config(preset, overrides), seed);
  return pm;
}

// Backward vs central differences (f32) on a few entries of every trainable adapter tensor.
// T5 runs with a smooth activation here: relu's kinks make central differences unreliable.
inline void expect_fd_grads(const std::string& preset, const json& overrides) {
  for (const std::string& kind : kinds()) {
    SCOPED_TRACE(kind);
    json t5 = lora_test::t5_config();
    t5["feed_forward_proj"] = "gelu_new";
    models::ModelPtr model = kind == "t5" ? models::create_model(t5, "T5ForConditionalGeneration", 1) : tiny_model(kind, 1);
    model->eval();
    peft::PeftModel pm(model);
    pm.add_adapter("default", peft::make_config(preset, overrides), 3);
    const models::Batch batch = tiny_batch(kind);
    lora_test::expect_fd_grads([&] { return pm.forward(batch).loss; }, pm.trainable_parameters(), 1e-3);
  }
}

// 4 AdamW steps: every adapter tensor moves, every base tensor stays bit-identical, and
// backward runs no `linear.dw` kernel (the methods add no trainable Linear).
inline void expect_only_adapter_trains(const std::string& preset, const json& overrides, const std::string& marker) {
  for (const std::string& kind : kinds()) {
    SCOPED_TRACE(kind);
    auto pm = adapted(kind, preset, overrides);
    const auto base_before = snapshot(pm->base());
    std::map<std::string, Tensor> adapter_before;
    for (const auto& [k, t] : pm->trainable_parameters()) adapter_before[k] = t.clone();
    ASSERT_FALSE(adapter_before.empty());
    engine::optim::AdamW opt(pm->trainable_parameters(), {.lr = 1e-2});
    const models::Batch batch = tiny_batch(kind);
    for (int step = 0; step < 4; ++step) {
      opt.zero_grad();
      Tensor loss = pm->forward(batch).loss;
      engine::reset_counters();
      loss.backward();
      EXPECT_EQ(engine::counters().backward_count("linear.dw"), 0);
      opt.step();
    }
    for (const auto& [name, t] : snapshot(pm->base()))
      if (name.find(marker) == std::string::npos) EXPECT_TRUE(lora_test::bit_identical(t, base_before.at(name))) << name;
    for (const auto& [k, t] : pm->trainable_parameters()) EXPECT_GT(max_diff(t, adapter_before.at(k)), 0.0) << k;
  }
}

// merge == unmerged outputs (1e-5); unmerge restores the base weights (1e-6) and the outputs.
inline void expect_merge_roundtrip(const std::string& preset, const json& overrides) {
  for (const std::string& kind : kinds()) {
    SCOPED_TRACE(kind);
    auto pm = adapted(kind, preset, overrides);
    const auto before = snapshot(pm->base());
    const models::Batch batch = tiny_batch(kind);
    const Tensor unmerged = pm->forward(batch).logits.clone();
    {
      auto disabled = pm->disable_adapters();
      EXPECT_GT(max_diff(pm->forward(batch).logits, unmerged), 1e-6);  // the adapter really acts
    }
    pm->merge_adapter();
    EXPECT_LT(max_diff(pm->forward(batch).logits, unmerged), 1e-5);
    pm->unmerge_adapter();
    for (const auto& [name, t] : snapshot(pm->base())) EXPECT_LT(max_diff(t, before.at(name)), 1e-6) << name;
    EXPECT_LT(max_diff(pm->forward(batch).logits, unmerged), 1e-5);
  }
}

// save_pretrained -> load_adapter into a fresh model of the same seed: identical outputs.
inline void expect_save_load(const std::string& preset, const json& overrides) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / ("save_load_" + preset);
  fs::remove_all(dir);
  for (const std::string& kind : kinds()) {
    SCOPED_TRACE(kind);
    auto trained = adapted(kind, preset, overrides);
    const models::Batch batch = tiny_batch(kind);
    const Tensor expected = trained->forward(batch).logits.clone();
    trained->save_pretrained(dir / kind);
    peft::PeftModel fresh(tiny_model(kind, 1));
    fresh.load_adapter(dir / kind);
    EXPECT_EQ(max_diff(fresh.forward(batch).logits, expected), 0.0);
  }
  fs::remove_all(dir);
}

}  // namespace oft_test
