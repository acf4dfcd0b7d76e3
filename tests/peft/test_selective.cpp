// BitFit, partial freezing, random sparse masks and FishMask on tiny random models: only the
// chosen entries move under AdamW, frozen weights run no dW kernel, disable/enable and
// delete are exact, save → load reproduces the outputs, optimizer state scales with the mask.
#include <gtest/gtest.h>

#include <filesystem>

#include "peft/methods/fish_mask/adapter.h"
#include "peft/methods/fish_mask/fisher.h"
#include "peft/methods/selective_common/entries.h"
#include "peft/test_selective_util.h"

namespace {

using namespace selective_test;
namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("peft_selective_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(BitFit, TrainsOnlyBiasesAndRunsNoWeightGradient) {
  peft::PeftModel peft(tiny_model("bert"));
  peft.add_adapter("default", peft::make_config("bitfit"));
  auto& a = selective(peft);
  for (const auto& e : a.entries()) EXPECT_TRUE(e.name.ends_with(".bias")) << e.name;
  const auto before = snapshot(peft.base());
  engine::reset_counters();
  auto opt = train_steps(peft, tiny_batch("bert"), 3);
  EXPECT_EQ(engine::counters().backward_count("linear.dw"), 0);  // every weight matrix frozen
  EXPECT_GT(expect_only_changed(before, snapshot(peft.base()), trained_entries(a)), 0);
  EXPECT_EQ(opt->state_numel(), 2 * a.num_trained_entries());
}

TEST(BitFit, TargetModulesPickBiasesAndSeqClsTrainsTheHead) {
  peft::PeftModel peft(tiny_model("bert"));
  peft.add_adapter("default", peft::make_config("bitfit", {{"target_modules", {"query", "value"}}, {"task_type", "SEQ_CLS"}}));
  EXPECT_EQ(selective(peft).entries().size(), 4u);  // 2 layers × (query, value)
  int64_t heads = 0;
  for (const auto& [key, t] : peft.trainable_parameters()) heads += key == "base_model.model.classifier.weight";
  EXPECT_EQ(heads, 1);
  engine::reset_counters();
  train_steps(peft, tiny_batch("bert"), 1);
  EXPECT_EQ(engine::counters().backward_count("linear.dw"), 1);  // the head copy only
  EXPECT_THROW(peft::PeftModel(tiny_model("t5")).add_adapter("x", peft::make_config("bitfit")), engine::KeyError);  // T5 has no bias
}

TEST(Partial, LastKLayersTrainWholeTopBlocks) {
  peft::PeftModel peft(tiny_model("gpt2"));
  peft.add_adapter("default", peft::make_config("last_k", {{"last_k_layers", 1}}));
  auto& a = selective(peft);
  for (const auto& e : a.entries()) EXPECT_TRUE(e.name.starts_with("transformer.h.1.")) << e.name;
  const auto before = snapshot(peft.base());
  engine::reset_counters();
  train_steps(peft, tiny_batch("gpt2"), 2);
  // c_attn, attn.c_proj, c_fc, mlp.c_proj of block 1 per backward; block 0 and the tied head frozen.
  EXPECT_EQ(engine::counters().backward_count("linear.dw"), 2 * 4);
  EXPECT_GT(expect_only_changed(before, snapshot(peft.base()), trained_entries(a)), 0);
}

TEST(Partial, HeadOnlyAndPatterns) {
  peft::PeftModel gpt(tiny_model("gpt2"));
  gpt.add_adapter("default", peft::make_config("head_only"));
  ASSERT_EQ(selective(gpt).entries().size(), 1u);
  EXPECT_EQ(selective(gpt).entries()[0].name, "transformer.wte.weight");  // lm_head is tied to it
  peft::PeftModel bert(tiny_model("bert"));
  bert.add_adapter("default", peft::make_config("head_only", {{"head_only", false}, {"trainable_patterns", {"LayerNorm"}}}));
  for (const auto& e : selective(bert).entries()) EXPECT_NE(e.name.find("LayerNorm"), std::string::npos) << e.name;
  EXPECT_THROW(peft::make_config("head_only", {{"head_only", false}}), engine::ConfigError);
}

TEST(SparseMask, OnlyMaskedEntriesMoveAndStateIsCompact) {
  peft::PeftModel peft(tiny_model("bert"));
  peft.add_adapter("default", peft::make_config("sparse_mask", {{"mask_fraction", 0.05}}), /*seed=*/7);
  auto& a = selective(peft);
  ASSERT_EQ(a.entries().size(), 13u);  // 2 layers × (q, k, v, attn out, intermediate, out) + pooler; not the head
  for (const auto& e : a.entries()) {
    EXPECT_EQ(e.indices.numel(), peft::selective::budget(0.05, e.param.numel())) << e.name;
    EXPECT_EQ(engine::compact_shape(e.param), engine::Shape{e.indices.numel()});
  }
  const auto before = snapshot(peft.base());
  engine::reset_counters();
  auto opt = train_steps(peft, tiny_batch("bert"), 3);
  // Masked weights need dW (computed dense, then gathered to [nnz]): one per masked matrix.
  EXPECT_EQ(engine::counters().backward_count("linear.dw"), 3 * 13);
  EXPECT_GT(expect_only_changed(before, snapshot(peft.base()), trained_entries(a)), 0);
  EXPECT_EQ(opt->state_numel(), 2 * a.num_trained_entries());
}

TEST(SparseMask, DisableEnableAndDeleteAreExact) {
  peft::PeftModel peft(tiny_model("bert"));
  const auto base_state = snapshot(peft.base());
  const Tensor base_logits = peft.forward(tiny_batch("bert")).logits;
  peft.add_adapter("default", peft::make_config("sparse_mask", {{"mask_fraction", 0.1}}));
  train_steps(peft, tiny_batch("bert"), 3);
  const auto trained = snapshot(peft.base());
  const Tensor logits = peft.forward(tiny_batch("bert")).logits;
  ASSERT_GT(max_diff(logits, base_logits), 1e-4);
  {
    auto off = peft.disable_adapters();
    EXPECT_TRUE(bit_identical(peft.forward(tiny_batch("bert")).logits, base_logits));
    for (const auto& [n, t] : peft.base().state_dict()) EXPECT_TRUE(bit_identical(t, base_state.at(n))) << n;
  }
  for (const auto& [n, t] : peft.base().state_dict()) EXPECT_TRUE(bit_identical(t, trained.at(n))) << n;
  EXPECT_TRUE(bit_identical(peft.forward(tiny_batch("bert")).logits, logits));
  peft.delete_adapter("default");
  for (const auto& [n, t] : peft.base().state_dict()) {
    EXPECT_TRUE(bit_identical(t, base_state.at(n))) << n;
    EXPECT_FALSE(t.requires_grad() || engine::grad_mask(t)) << n;
  }
}

TEST(Selective, SaveLoadReproducesOutputs) {
  for (const char* preset : {"sparse_mask", "bitfit", "last_k"}) {
    SCOPED_TRACE(preset);
    const json overrides = std::string(preset) == "bitfit" ? json{{"task_type", "SEQ_CLS"}} : json::object();
    peft::PeftModel peft(tiny_model("bert"));
    peft.add_adapter("default", peft::make_config(preset, overrides));
    train_steps(peft, tiny_batch("bert"), 3);
    const fs::path dir = temp_dir(preset);
    peft.save_pretrained(dir);
    const auto file = peft::read_adapter_weights(dir);
    for (const auto& e : selective(peft).entries())
      if (e.indices.defined())
        EXPECT_EQ(file.at("base_model.model." + e.name + ".sparse_indices").dtype(), engine::DType::i64);

    peft::PeftModel fresh(tiny_model("bert"));
    fresh.load_adapter(dir);
    EXPECT_LE(max_diff(fresh.forward(tiny_batch("bert")).logits, peft.forward(tiny_batch("bert")).logits), 1e-6);
    EXPECT_EQ(selective(fresh).num_trained_entries(), selective(peft).num_trained_entries());
    EXPECT_TRUE(fresh.trainable_parameters().empty());  // loaded for inference
    fs::remove_all(dir);
  }
}

TEST(Selective, MergeIsANoOpAndUnloadKeepsTheTrainedBase) {
  peft::PeftModel peft(tiny_model("bert"));
  peft.add_adapter("default", peft::make_config("sparse_mask", {{"mask_fraction", 0.1}}));
  train_steps(peft, tiny_batch("bert"), 2);
  const Tensor logits = peft.forward(tiny_batch("bert")).logits;
  const auto trained = snapshot(peft.base());
  peft.merge_adapter();
  EXPECT_TRUE(peft.adapter("default").merged());
  EXPECT_TRUE(bit_identical(peft.forward(tiny_batch("bert")).logits, logits));
  models::ModelPtr merged = peft.merge_and_unload();
  EXPECT_TRUE(bit_identical(merged->forward(tiny_batch("bert")).logits, logits));
  for (const auto& [n, t] : merged->state_dict()) {
    EXPECT_TRUE(bit_identical(t, trained.at(n))) << n;
    EXPECT_FALSE(t.requires_grad() || engine::grad_mask(t)) << n;  // fences gone with the adapter
  }
}

TEST(FishMask, SelectsTheLargestFisherEntries) {
  peft::PeftModel peft(tiny_model("bert"));
  auto& fm = dynamic_cast<peft::fish_mask::FishMaskAdapter&>(
      peft.add_adapter("default", peft::make_config("fish_mask", {{"mask_fraction", 0.02}, {"target_modules", {"query", "value"}}})));
  EXPECT_EQ(fm.num_trained_entries(), 0);  // nothing until select()
  auto loss = [&] { return peft.forward(tiny_batch("bert")).loss; };
  // The same deterministic batch: the Fisher estimate equals grad² of its loss.
  peft::selective::NamedParams weights;
  for (const auto& [n, t] : peft.base().named_parameters())
    if (n.ends_with("query.weight") || n.ends_with("value.weight")) weights.emplace_back(n, t);
  const auto fisher = peft::fish_mask::compute_fisher(weights, loss, 2);
  for (const auto& [n, t] : weights) EXPECT_FALSE(t.requires_grad()) << n;  // restored
  const int64_t k = fm.select(loss, 2);
  EXPECT_EQ(k, peft::selective::budget(0.02, 4 * 32 * 32));
  float min_chosen = INFINITY, max_other = 0;
  const auto chosen = trained_entries(fm);
  for (const auto& [n, f] : fisher) {
    const std::vector<float> v = f.to_vector<float>();
    for (size_t i = 0; i < v.size(); ++i) {
      const bool in = chosen.count(n) && chosen.at(n).count(int64_t(i));
      if (in) min_chosen = std::min(min_chosen, v[i]);
      else max_other = std::max(max_other, v[i]);
    }
  }
  EXPECT_GE(min_chosen, max_other);
  EXPECT_GT(min_chosen, 0.0f);
  const auto before = snapshot(peft.base());
  train_steps(peft, tiny_batch("bert"), 2);
  EXPECT_GT(expect_only_changed(before, snapshot(peft.base()), chosen), 0);
}

// AdamW state for a BERT-base-shaped block (768 hidden, 3072 FFN): full fine-tuning of its
// seven matrices (with the pooler) vs a 1% sparse mask over the same matrices. State must scale with the mask.
TEST(Selective, OptimizerStateScalesWithTheMask) {
  json c = bert_config(768);
  c["intermediate_size"] = 3072, c["num_hidden_layers"] = 1, c["num_attention_heads"] = 12;
  peft::PeftModel peft(models::create_model(c, "BertModel", 1));
  peft.add_adapter("default", peft::make_config("sparse_mask", {{"mask_fraction", 0.01}}));
  auto& a = selective(peft);
  engine::optim::AdamW sparse(peft.trainable_parameters());
  engine::optim::NamedTensors dense_params;
  for (const auto& e : a.entries()) dense_params.emplace_back(e.name, e.param.detach().requires_grad_(true));
  engine::optim::AdamW full(dense_params);
  const double ratio = double(sparse.state_numel()) / double(full.state_numel());
  std::printf("[ AdamW state ] full %.1f MB, 1%% mask %.2f MB, ratio %.4f\n", full.state_numel() * 4 / 1e6,
              sparse.state_numel() * 4 / 1e6, ratio);
  EXPECT_EQ(full.state_numel(), 2 * (5 * 768 * 768 + 2 * 768 * 3072));  // + the pooler
  EXPECT_EQ(sparse.state_numel(), 2 * a.num_trained_entries());
  EXPECT_NEAR(ratio, 0.01, 1e-4);
}

}  // namespace
