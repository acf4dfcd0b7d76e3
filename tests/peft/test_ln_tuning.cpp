// LN tuning: default targets, trainable copies of the norms on tiny BERT / GPT-2 / T5
// (RMSNorm): gradients, training, merge by swapping values, one adapter at a time, files.
#include <gtest/gtest.h>

#include "test_oft_common.h"

namespace {

using engine::Tensor;
using oft_test::json;

const json kBert = {{"target_modules", {"LayerNorm"}}};

// The tiny models' norms start at weight 1, bias 0; perturbed copies make the adapter act.
std::unique_ptr<peft::PeftModel> perturbed(const std::string& kind) {
  auto pm = oft_test::adapted(kind, "ln_tuning", kind == "bert" ? kBert : json::object());
  engine::Generator gen(5);
  for (auto& [key, t] : pm->trainable_parameters()) engine::copy_(t, t + engine::normal(t.shape(), 0.0, 0.2, t.dtype(), gen));
  return pm;
}

TEST(LnTuning, DefaultTargetsFollowPeft) {
  auto gpt2 = oft_test::adapted("gpt2", "ln_tuning", json::object());
  EXPECT_EQ(gpt2->trainable_parameters().size(), 2u * 5);  // ln_1, ln_2 ×2 layers + ln_f, weight + bias
  EXPECT_EQ(gpt2->trainable_parameters().front().first, "base_model.model.transformer.h.0.ln_1.ln_tuning_layers.weight");
  auto t5 = oft_test::adapted("t5", "ln_tuning", json::object());
  EXPECT_EQ(t5->trainable_parameters().size(), 12u);  // RMSNorm weights: encoder 2·2 + final, decoder 2·3 + final
  EXPECT_THROW(oft_test::adapted("bert", "ln_tuning", json::object()), engine::ConfigError);  // no BERT default
}

TEST(LnTuning, GradientsMatchFiniteDifferences) {
  for (const std::string kind : {"bert", "gpt2"}) {
    SCOPED_TRACE(kind);
    auto pm = perturbed(kind);
    const models::Batch batch = lora_test::tiny_batch(kind);
    lora_test::expect_fd_grads([&] { return pm->forward(batch).loss; }, pm->trainable_parameters(), 1e-3);
  }
}

TEST(LnTuning, OnlyTheCopiesTrain) {
  for (const std::string kind : {"bert", "gpt2", "t5"}) {
    SCOPED_TRACE(kind);
    auto pm = oft_test::adapted(kind, "ln_tuning", kind == "bert" ? kBert : json::object());
    const auto before = oft_test::snapshot(pm->base());
    engine::optim::AdamW opt(pm->trainable_parameters(), {.lr = 1e-2});
    const models::Batch batch = lora_test::tiny_batch(kind);
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      Tensor loss = pm->forward(batch).loss;
      engine::reset_counters();
      loss.backward();
      EXPECT_EQ(engine::counters().backward_count("linear.dw"), 0);
      opt.step();
    }
    for (const auto& [name, t] : oft_test::snapshot(pm->base())) {
      const bool copy = name.find(".ln_tuning_layers.") != std::string::npos;
      if (copy) EXPECT_GT(oft_test::max_diff(t, before.at(name)), 0.0) << name;
      else EXPECT_TRUE(lora_test::bit_identical(t, before.at(name))) << name;
    }
  }
}

// Merging swaps the copy's values into the base (PEFT swaps the modules): outputs unchanged,
// and unmerging swaps back bit for bit.
TEST(LnTuning, MergeSwapsAndUnmergeRestoresExactly) {
  for (const std::string kind : {"bert", "gpt2", "t5"}) {
    SCOPED_TRACE(kind);
    auto pm = perturbed(kind);
    const auto before = oft_test::snapshot(pm->base());
    const models::Batch batch = lora_test::tiny_batch(kind);
    const Tensor unmerged = pm->forward(batch).logits.clone();
    pm->merge_adapter();
    EXPECT_EQ(oft_test::max_diff(pm->forward(batch).logits, unmerged), 0.0);
    pm->unmerge_adapter();
    for (const auto& [name, t] : oft_test::snapshot(pm->base())) EXPECT_TRUE(lora_test::bit_identical(t, before.at(name))) << name;
  }
}

TEST(LnTuning, OneAdapterAtATime) {
  auto pm = perturbed("gpt2");
  pm->add_adapter("second", peft::make_config("ln_tuning"));
  pm->set_adapter({"default", "second"});
  EXPECT_THROW(pm->forward(lora_test::tiny_batch("gpt2")), engine::ValueError);
}

TEST(LnTuning, SaveLoadRoundTrip) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / "ln_tuning_save_load";
  fs::remove_all(dir);
  for (const std::string kind : {"bert", "gpt2", "t5"}) {
    auto pm = perturbed(kind);
    const models::Batch batch = lora_test::tiny_batch(kind);
    const Tensor expected = pm->forward(batch).logits.clone();
    pm->save_pretrained(dir / kind);
    peft::PeftModel fresh(lora_test::tiny_model(kind, 1));
    fresh.load_adapter(dir / kind);
    EXPECT_EQ(oft_test::max_diff(fresh.forward(batch).logits, expected), 0.0) << kind;
  }
  fs::remove_all(dir);
}

}  // namespace
