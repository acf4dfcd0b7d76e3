// QLoRA: LoRA over NF4 / int8 frozen base weights. Memory per base parameter, outputs within
// the quantization error, gradients only for LoRA tensors (no kernel for the base weight),
// training lowers the loss, merge refuses while merge_and_unload gives a dequantized f32
// model with the delta added, and the adapter folder round-trips.
#include <filesystem>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "peft/methods/lora/config.h"
#include "peft/methods/lora/quantized_linear.h"
#include "test_lora_helpers.h"

namespace {
namespace fs = std::filesystem;
using engine::Tensor;
using peft::lora::QuantizedLoraLinear;
using namespace lora_test;

// NF4 needs `in` to be a multiple of 64: hidden 64 models.
models::ModelPtr model64(const std::string& kind) { return tiny_model(kind, 1, 64); }

std::vector<QuantizedLoraLinear*> quantized_layers(peft::Adapter& ad) {
  std::vector<QuantizedLoraLinear*> out;
  for (const auto& [path, layer] : static_cast<peft::LayerAdapter&>(ad).layers())
    out.push_back(dynamic_cast<QuantizedLoraLinear*>(layer.get()));
  return out;
}

TEST(Qlora, Nf4BaseUsesAbout4Point1BitsPerParameter) {
  for (const std::string format : {"nf4", "int8"}) {
    peft::PeftModel pm(model64("bert"));
    auto& ad = pm.add_adapter("default", lora_config({{"target_modules", "all-linear"}, {"quantize_base", format}}));
    int64_t bytes = 0, params = 0;
    for (QuantizedLoraLinear* l : quantized_layers(ad)) {
      ASSERT_NE(l, nullptr);
      ASSERT_NE(l->quantized_base(), nullptr);
      bytes += l->quantized_base()->qweight().bytes();
      params += l->quantized_base()->qweight().numel();
    }
    const double bits = 8.0 * double(bytes) / double(params);
    std::cout << format << ": " << bits << " bits per base parameter over " << params << " parameters\n";
    if (format == "nf4") {
      EXPECT_GE(bits, 4.1);
      EXPECT_LE(bits, 4.2);
    } else {
      EXPECT_LE(bits, 8.0 + 32.0 / 64 + 1e-9);
    }
  }
}

// Outputs equal those of the f32 model whose target weights are replaced by their
// dequantized values, and stay close to the original f32 model.
TEST(Qlora, OutputsWithinQuantizationErrorOfTheF32Model) {
  const models::Batch batch = tiny_batch("bert");
  models::ModelPtr reference = model64("bert");
  const Tensor f32_logits = reference->forward(batch).logits;
  for (const std::string format : {"nf4", "int8"}) {
    peft::PeftModel pm(model64("bert"));
    auto& ad = pm.add_adapter("default", lora_config({{"quantize_base", format}}));
    const Tensor q_logits = pm.forward(batch).logits;
    models::ModelPtr dequantized = model64("bert");
    for (const auto& [path, layer] : static_cast<peft::LayerAdapter&>(ad).layers()) {
      engine::NoGradGuard no_grad;
      auto* q = static_cast<QuantizedLoraLinear*>(layer.get());
      engine::copy_(dequantized->get(path)->param("weight"), q->base_weight_out_in());
    }
    EXPECT_LT(max_diff(q_logits, dequantized->forward(batch).logits), 1e-5) << format;
    const double scale = engine::max(engine::abs(f32_logits)).item<double>();
    const double err = max_diff(q_logits, f32_logits);
    std::cout << format << ": max |logits - f32 logits| = " << err << " (max |logit| " << scale << ")\n";
    EXPECT_LT(err, (format == "nf4" ? 0.1 : 0.02) * scale) << format;
  }
}

TEST(Qlora, OnlyLoraTensorsGetGradientsAndTrainingLowersTheLoss) {
  for (const std::string kind : {"bert", "gpt2"}) {
    peft::PeftModel pm(model64(kind));
    auto& ad = pm.add_adapter("default", lora_config({{"r", 4}, {"quantize_base", "nf4"}}));
    const int64_t targets = int64_t(quantized_layers(ad).size());
    engine::optim::AdamW opt(pm.trainable_parameters(), {.lr = 2e-2});
    const models::Batch batch = tiny_batch(kind);
    double first = 0, last = 0;
    for (int step = 0; step < 8; ++step) {
      opt.zero_grad();
      Tensor loss = pm.forward(batch).loss;
      engine::reset_counters();
      loss.backward();
      EXPECT_EQ(engine::counters().backward_count("linear.dw"), 2 * targets) << kind;
      // Layer 0 reads frozen embeddings, so its bases need no dx either: layer 1 only.
      EXPECT_EQ(engine::counters().backward_count("quantized_linear.dx"), targets / 2) << kind;
      (step == 0 ? first : last) = loss.item<double>();
      opt.step();
    }
    EXPECT_LT(last, first) << kind;
    for (const auto& [name, t] : pm.base().named_parameters())
      if (name.find(".lora_") == std::string::npos) EXPECT_FALSE(t.grad().defined()) << name;
    for (const auto& [key, t] : ad.trainable_tensors()) EXPECT_TRUE(t.grad().defined()) << key;
  }
}

TEST(Qlora, MergeRefusesAndMergeAndUnloadGivesADequantizedF32Model) {
  for (const std::string kind : {"bert", "gpt2"}) {
    const models::Batch batch = tiny_batch(kind);
    peft::PeftModel pm(model64(kind));
    auto& ad = pm.add_adapter("default", lora_config({{"init_lora_weights", false}, {"quantize_base", "nf4"}}));
    const Tensor adapted = pm.forward(batch).logits.clone();
    try {
      pm.merge_adapter();
      ADD_FAILURE() << "merge_adapter should refuse a quantized base";
    } catch (const engine::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("merge into a dequantized copy: use merge_and_unload"), std::string::npos)
          << e.what();
    }
    std::map<std::string, Tensor> expected;  // Ŵ + ΔW per target, [out,in]
    for (const auto& [path, layer] : static_cast<peft::LayerAdapter&>(ad).layers()) {
      auto* q = static_cast<QuantizedLoraLinear*>(layer.get());
      expected[path] = q->base_weight_out_in() + q->delta_weight("default");
    }
    models::ModelPtr merged = pm.merge_and_unload();
    for (const auto& [path, w] : expected) {
      auto* linear = dynamic_cast<engine::nn::Linear*>(merged->get(path).get());
      ASSERT_NE(linear, nullptr) << path << " is a " << merged->get(path)->type_name();
      Tensor stored = linear->weight();
      EXPECT_EQ(stored.dtype(), engine::DType::f32);
      EXPECT_LT(max_diff(linear->layout() == engine::WeightLayout::out_in ? stored : stored.transpose(0, 1), w), 1e-6);
    }
    EXPECT_LT(max_diff(merged->forward(batch).logits, adapted), 1e-4) << kind;
  }
}

TEST(Qlora, AdapterFolderRecordsTheQuantizationAndReloads) {
  const fs::path dir = fs::path(::testing::TempDir()) / "qlora_save_load";
  fs::remove_all(dir);
  const models::Batch batch = tiny_batch("bert");
  peft::PeftModel trained(model64("bert"));
  trained.add_adapter("default", peft::make_config("qlora", {{"init_lora_weights", false}}));
  const Tensor expected = trained.forward(batch).logits.clone();
  trained.save_pretrained(dir);
  peft::PeftModel fresh(model64("bert"));
  auto& ad = fresh.load_adapter(dir);
  EXPECT_EQ(static_cast<const peft::lora::LoraConfig&>(ad.config()).quantize_base, "nf4");
  EXPECT_LT(max_diff(fresh.forward(batch).logits, expected), 1e-6);
  fs::remove_all(dir);
}

TEST(Qlora, Nf4NeedsInputSizesThatAreMultiplesOf64) {
  peft::PeftModel pm(tiny_model("bert"));  // hidden 32
  try {
    pm.add_adapter("default", lora_config({{"quantize_base", "nf4"}}));
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bert.encoder.layer.0.attention.self.query"), std::string::npos) << e.what();
  }
}

}  // namespace
