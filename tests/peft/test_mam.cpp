// MAM (prefix tuning + scaled parallel adapter) and UniPELT (gated LoRA + gated prefix + gated
// bottleneck): what each attaches, only their tensors train (the frozen base runs no dW),
// save → load, delete restores the base, merge refused — on tiny BERT, GPT-2 and T5.
#include <filesystem>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/optim/adamw.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"
#include "peft/methods/mam/adapter.h"
#include "peft/methods/unipelt/adapter.h"
#include "test_bottleneck_util.h"

namespace {

using engine::Tensor;
using namespace bn_test;

// Base parameters by their original names (LoRA wrappers add ".base_layer"; adapter tensors skipped).
std::map<std::string, Tensor> base_state(const models::PretrainedModel& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, t] : m.state_dict()) {
    if (k.find("lora_") != std::string::npos) continue;
    std::string name = k;
    if (auto p = name.find(".base_layer"); p != std::string::npos) name.erase(p, 11);
    out[name] = t.clone();
  }
  return out;
}

// Trains a few steps; checks the dW count, that every trainable tensor moved and the base did not.
void train_and_check(peft::PeftModel& pm, const std::string& arch, int64_t want_dw) {
  const auto base = base_state(pm.base());
  const auto trainable = pm.trainable_parameters();
  std::map<std::string, Tensor> start;
  for (const auto& [k, t] : trainable) start[k] = t.clone();
  engine::optim::AdamW opt(trainable, {.lr = 1e-2});
  for (int step = 0; step < 2; ++step) {
    engine::reset_counters();
    pm.forward(batch_for(arch)).loss.backward();
    EXPECT_EQ(engine::counters().backward_count("linear.dw"), want_dw) << arch;
    opt.step();
    opt.zero_grad();
  }
  const auto after = base_state(pm.base());
  for (const auto& [k, t] : base) EXPECT_TRUE(bit_equal(t, after.at(k))) << arch << " " << k;
  for (const auto& [k, t] : trainable) EXPECT_GT(max_abs_diff(t, start[k]), 0) << arch << " " << k;
}

void check_round_trip_and_delete(peft::PeftModel& pm, const std::string& arch, const std::string& preset) {
  const auto dir = std::filesystem::temp_directory_path() / ("peft_" + preset + "_roundtrip");
  std::filesystem::remove_all(dir);
  const Tensor want = pm.forward(batch_for(arch)).logits;
  pm.save_pretrained(dir);
  peft::PeftModel fresh(tiny(arch));
  const Tensor plain = fresh.forward(batch_for(arch)).logits;
  fresh.load_adapter(dir);
  EXPECT_TRUE(bit_equal(fresh.forward(batch_for(arch)).logits, want)) << arch << " " << preset;
  EXPECT_THROW(fresh.merge_adapter(), engine::ValueError);
  fresh.delete_adapter("default");
  EXPECT_TRUE(bit_equal(fresh.forward(batch_for(arch)).logits, plain)) << arch << " " << preset;
  std::filesystem::remove_all(dir);
}

TEST(Mam, PrefixPlusParallelAdapterTrainsAndRoundTrips) {
  for (const auto& arch : archs()) {
    auto model = tiny(arch);
    const Tensor plain = model->forward(batch_for(arch)).logits;
    peft::PeftModel pm(model);
    auto& mam = static_cast<peft::mam::MamAdapter&>(
        pm.add_adapter("default", peft::make_config("mam", {{"prefix_length", 3}, {"bottleneck_size", 16}}), 1));
    const size_t ffn_sites = arch[0] == 'T' ? 4 : 2;
    ASSERT_EQ(mam.modules().size(), ffn_sites) << arch;
    EXPECT_GT(max_abs_diff(pm.forward(batch_for(arch)).logits, plain), 0) << arch;  // the prefix is live
    // dW: two per parallel adapter + the prefix MLP's two Linears.
    train_and_check(pm, arch, int64_t(2 * ffn_sites + 2));
    check_round_trip_and_delete(pm, arch, "mam");
  }
}

TEST(Unipelt, ThreeGatedPartsTrainAndRoundTrip) {
  for (const auto& arch : archs()) {
    peft::PeftModel pm(tiny(arch));
    auto& u = static_cast<peft::unipelt::UnipeltAdapter&>(
        pm.add_adapter("default", peft::make_config("unipelt", {{"prefix_length", 2}, {"bottleneck_size", 8},
                                                               {"init_weights", "bert"}}), 2));
    const int64_t prefix_layers = 2;  // BERT / GPT-2 blocks; T5's decoder blocks
    int gates = 0;
    for (const auto& [k, t] : u.file_tensors())
      gates += k.find("gate") != std::string::npos && k.find("weight") != std::string::npos;
    EXPECT_EQ(gates, int(u.modules().size() + u.lora_layers().size()) + prefix_layers) << arch;
    // dW: bottleneck down/up/gate per site, LoRA A/B/gate per target, prefix MLP 2, one gate per layer.
    const auto want = int64_t(3 * u.modules().size() + 3 * u.lora_layers().size()) + 2 + prefix_layers;
    train_and_check(pm, arch, want);
    check_round_trip_and_delete(pm, arch, "unipelt");
  }
}

TEST(Unipelt, GatedLoraMatchesItsFormula) {
  // One gated LoRA layer against its formula: y = W·x + mean_t σ(g(x_t))·(α/r)·B·A·x, α/r = 2/8.
  auto model = tiny("GPT2LMHeadModel");
  peft::PeftModel pm(model);
  auto& u = static_cast<peft::unipelt::UnipeltAdapter&>(pm.add_adapter("default", peft::make_config("unipelt"), 3));
  auto& [path, layer] = u.lora_layers()[0];
  EXPECT_EQ(path, "transformer.h.0.attn.c_attn");
  engine::copy_(layer->lora_B("default"), engine::normal(layer->lora_B("default").shape(), 0.0, 1.0));
  engine::Generator gen(4);
  Tensor x = engine::normal({2, 3, 32}, 0.0, 1.0, engine::DType::f32, gen);
  auto gate = std::dynamic_pointer_cast<engine::nn::Linear>(layer->get("lora_gate.default"));
  Tensor g = engine::mean(engine::sigmoid(gate->forward(x)), {1}, true);  // [2,1,1]
  Tensor lora = engine::linear(engine::linear(x, layer->lora_A("default")), layer->lora_B("default")) * 0.25;
  Tensor want = layer->base_layer().forward(x) + lora * g;
  EXPECT_LT(max_abs_diff(layer->forward(x), want), 1e-5);
}

}  // namespace
