// The PEFT core API exercised through LoRA: several adapters (summed when several are
// active), disable_adapters, delete_adapter back to the original model, per-sample
// adapter_names, modules_to_save, print_trainable_parameters and merge_and_unload through an
// HF folder. (Target selection and file formats: test_peft_core_targets.cpp / _files.cpp.)
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "peft/core/sample_routing.h"
#include "peft/methods/lora/layer.h"
#include "test_lora_helpers.h"

namespace {
namespace fs = std::filesystem;
using engine::Tensor;
using peft::lora::LoraLinear;
using namespace lora_test;

const json kRandom = {{"init_lora_weights", false}, {"r", 4}};

LoraLinear& first_layer(peft::Adapter& ad) {
  return static_cast<LoraLinear&>(*static_cast<peft::LayerAdapter&>(ad).layers().at(0).second);
}

TEST(PeftCore, SeveralActiveAdaptersSumTheirDeltas) {
  peft::PeftModel pm(tiny_model("bert"));
  auto& a = pm.add_adapter("a", lora_config(kRandom), 1);
  pm.add_adapter("b", lora_config(kRandom), 2);
  EXPECT_EQ(pm.active_adapters(), std::vector<std::string>{"a"});  // the first one only
  pm.set_adapter({"a", "b"});
  LoraLinear& layer = first_layer(a);
  engine::Generator gen(9);
  Tensor x = engine::randn({3, 32}, engine::DType::f32, gen);
  Tensor expected = layer.base_layer().forward(x) + engine::linear(x, layer.delta_weight("a")) +
                    engine::linear(x, layer.delta_weight("b"));
  EXPECT_LT(max_diff(layer.forward(x), expected), 1e-5);
  // And the whole model: both active == both merged.
  const models::Batch batch = tiny_batch("bert");
  const Tensor both = pm.forward(batch).logits.clone();
  pm.merge_adapter();
  EXPECT_LT(max_diff(pm.forward(batch).logits, both), 1e-5);
}

TEST(PeftCore, DisableAdaptersRunsTheBaseModel) {
  const models::Batch batch = tiny_batch("gpt2");
  const Tensor base = tiny_model("gpt2")->forward(batch).logits;
  peft::PeftModel pm(tiny_model("gpt2"));
  pm.add_adapter("default", lora_config(kRandom));
  const Tensor adapted = pm.forward(batch).logits.clone();
  ASSERT_GT(max_diff(adapted, base), 1e-4);
  {
    auto off = pm.disable_adapters();
    EXPECT_TRUE(bit_identical(pm.forward(batch).logits, base));
  }
  EXPECT_TRUE(bit_identical(pm.forward(batch).logits, adapted));
  pm.merge_adapter();  // disabling unmerges first, as PEFT does
  {
    auto off = pm.disable_adapters();
    EXPECT_LT(max_diff(pm.forward(batch).logits, base), 1e-6);
  }
}

TEST(PeftCore, DeleteAdapterRestoresTheOriginalModuleTreeAndOutputs) {
  const models::Batch batch = tiny_batch("t5");
  peft::PeftModel pm(tiny_model("t5"));
  auto module_types = [&] {
    std::vector<std::string> out;
    for (const auto& [path, m] : pm.base().named_modules()) out.push_back(path + ":" + m->type_name());
    return out;
  };
  const auto types = module_types();
  const auto params = snapshot(pm.base());
  const Tensor base = pm.forward(batch).logits.clone();
  pm.add_adapter("a", lora_config(kRandom));
  pm.add_adapter("b", lora_config({{"target_modules", {"q", "k", "wo"}}, {"init_lora_weights", false}}));
  pm.set_adapter({"a", "b"});
  ASSERT_NE(module_types(), types);
  pm.delete_adapter("a");
  EXPECT_EQ(pm.active_adapters(), std::vector<std::string>{"b"});
  pm.delete_adapter("b");
  EXPECT_EQ(module_types(), types);
  const auto after = snapshot(pm.base());
  ASSERT_EQ(after.size(), params.size());
  for (const auto& [name, t] : after) EXPECT_TRUE(bit_identical(t, params.at(name))) << name;
  EXPECT_TRUE(bit_identical(pm.forward(batch).logits, base));
  EXPECT_THROW(pm.delete_adapter("a"), engine::KeyError);
}

TEST(PeftCore, AdapterNamesPerSampleEqualEachSampleAlone) {
  const models::Batch batch = tiny_batch("bert");
  peft::PeftModel pm(tiny_model("bert"));
  pm.add_adapter("a", lora_config(kRandom), 1);
  pm.add_adapter("b", lora_config(kRandom), 2);
  const std::vector<std::string> names = {"b", peft::kBaseOnly};
  const Tensor mixed = pm.forward(batch, {}, &names).logits.clone();  // [2,3]
  for (int64_t i = 0; i < 2; ++i) {
    models::Batch one;
    one.input_ids = batch.input_ids.narrow(0, i, 1);
    one.attention_mask = batch.attention_mask.narrow(0, i, 1);
    Tensor alone;
    if (names[i] == peft::kBaseOnly) {
      auto off = pm.disable_adapters();
      alone = pm.forward(one).logits;
    } else {
      pm.set_adapter({names[i]});
      alone = pm.forward(one).logits;
    }
    EXPECT_LT(max_diff(mixed.narrow(0, i, 1), alone), 1e-5) << names[i];
  }
  const std::vector<std::string> unknown = {"a", "zzz"};
  EXPECT_THROW(pm.forward(batch, {}, &unknown), engine::KeyError);
}

TEST(PeftCore, ModulesToSaveTrainsACopyOfTheHead) {
  peft::PeftModel pm(tiny_model("bert"));
  auto& ad = pm.add_adapter("default", lora_config({{"task_type", "SEQ_CLS"}, {"r", 4}}));
  EXPECT_EQ(pm.base().get("classifier")->type_name(), "ModulesToSaveWrapper");
  const Tensor original = pm.base().get("classifier.original_module")->param("weight").clone();
  bool saved = false;
  for (const auto& [key, t] : ad.file_tensors()) saved |= key == "base_model.model.classifier.weight";
  EXPECT_TRUE(saved);
  engine::optim::AdamW opt(pm.trainable_parameters(), {.lr = 1e-2});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    pm.forward(tiny_batch("bert")).loss.backward();
    opt.step();
  }
  EXPECT_TRUE(bit_identical(pm.base().get("classifier.original_module")->param("weight"), original));
  EXPECT_GT(max_diff(pm.base().get("classifier.modules_to_save.default")->param("weight"), original), 1e-4);
}

TEST(PeftCore, TrainableParametersReportHasPeftsFormat) {
  peft::PeftModel pm(tiny_model("bert"));
  const int64_t all_base = pm.base().num_parameters();
  pm.add_adapter("default", lora_config({{"r", 4}, {"target_modules", {"query", "value"}}}));
  const int64_t lora = 2 * 2 * (4 * 32 + 32 * 4);  // 2 layers x {query, value} x (A + B)
  EXPECT_EQ(pm.num_trainable_parameters(), lora);
  EXPECT_EQ(pm.num_all_parameters(), all_base + lora);
  const std::string line = pm.trainable_parameters_report();
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(trainable params: [0-9,]+ \|\| all params: [0-9,]+ \|\| trainable%: [0-9]+\.[0-9]{4})")))
      << line;
  EXPECT_NE(line.find("trainable params: 1,024 ||"), std::string::npos) << line;
}

TEST(PeftCore, MergeAndUnloadSavesAnHfFolderThatLoadsWithIdenticalLogits) {
  const fs::path dir = fs::path(::testing::TempDir()) / "lora_merged_hf";
  fs::remove_all(dir);
  for (const std::string kind : {"bert", "gpt2"}) {
    const models::Batch batch = tiny_batch(kind);
    peft::PeftModel pm(tiny_model(kind));
    pm.add_adapter("default", lora_config({{"init_lora_weights", false}, {"task_type", kind == "bert" ? "SEQ_CLS" : "CAUSAL_LM"}}));
    const Tensor adapted = pm.forward(batch).logits.clone();
    models::ModelPtr merged = pm.merge_and_unload();
    for (const auto& [path, m] : merged->named_modules())
      EXPECT_EQ(m->type_name().find("Lora"), std::string::npos) << path;
    EXPECT_LT(max_diff(merged->forward(batch).logits, adapted), 1e-5);
    models::save_pretrained(*merged, dir / kind);
    models::ModelPtr loaded = models::load_pretrained(dir / kind);
    loaded->eval();
    EXPECT_TRUE(bit_identical(loaded->forward(batch).logits, merged->forward(batch).logits)) << kind;
  }
  fs::remove_all(dir);
}

}  // namespace
