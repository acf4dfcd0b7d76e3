// Mixed precision in the training loop (app/train/precision.h, trainer.h), on the CPU with
// autocast's cpu mode, on a tiny GPT-2: bf16 LoRA stores the frozen base in bf16, keeps every
// trainable tensor (and every file tensor) f32 and tracks the f32 run's losses within a few %;
// f16 with a tiny or the default loss scale trains without skipping; an overflowing scale (2^40)
// skips every step, leaves the parameters untouched and halves the scale each time; a run that
// recovers from overflow and is resumed from its checkpoint ends bit-identical to a straight
// run (the scaler's state is in the checkpoint); every method preset trains under bf16, selective
// methods' masked base matrices stay f32 and trainable (diff pruning's mid-run switch included).
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "app/tiny_lm_data.h"
#include "app/tasks/model_setup.h"
#include "app/train/metrics_log.h"
#include "app/train/objectives.h"
#include "app/train/peft_target.h"
#include "app/train/precision.h"
#include "app/train/trainer.h"
#include "engine/engine.h"
#include "engine/io/tensor_io.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"
#include "peft/methods/fish_mask/adapter.h"

using namespace app::train;
namespace fs = std::filesystem;
using engine::DType;

namespace {

models::ModelPtr tiny_gpt2(double dropout = 0.0) {
  const nlohmann::json config = {{"model_type", "gpt2"}, {"vocab_size", 40},     {"n_positions", 64},
                                 {"n_embd", 64},         {"n_layer", 1},         {"n_head", 2},
                                 {"resid_pdrop", dropout}, {"embd_pdrop", dropout}, {"attn_pdrop", dropout}};
  return models::create_model(config, "GPT2LMHeadModel", /*seed=*/3);
}

Dataset tiny_data() { return train_test::tiny_lm_data(); }

std::shared_ptr<peft::PeftModel> with_method(const std::string& method, nlohmann::json overrides = nlohmann::json::object(),
                                             double dropout = 0.0) {
  auto peft = std::make_shared<peft::PeftModel>(tiny_gpt2(dropout));
  peft->add_adapter("default", app::tasks::method_config(method, std::move(overrides), app::tasks::Task::causal_lm, 6),
                    /*seed=*/5);
  return peft;
}

class MixedPrecision : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("peft_test_precision_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainOptions options(const std::string& name, const std::string& precision) const {
    TrainOptions o;
    o.lr = 1e-2, o.batch_size = 4, o.max_steps = 6, o.log_every = 1, o.progress = false, o.seed = 7;
    o.precision = precision;
    o.output_dir = (dir_ / name).string();
    return o;
  }

  fs::path dir_;
};

std::vector<double> logged_losses(const std::string& output_dir) {
  std::vector<double> out;
  for (const auto& r : read_metrics(fs::path(output_dir) / "metrics.jsonl"))
    if (r.contains("loss")) out.push_back(r["loss"].get<double>());
  return out;
}

std::vector<std::vector<float>> values(const NamedTensors& tensors) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, t] : tensors) out.push_back(engine::to_dtype(t, DType::f32).to_vector<float>());
  return out;
}

}  // namespace

TEST(PrecisionFlag, ParsesTheThreeNamesAndRejectsOthersNamingTheFlag) {
  EXPECT_EQ(parse_precision("f32"), app::train::Precision::f32);
  EXPECT_EQ(parse_precision("bf16"), app::train::Precision::bf16);
  EXPECT_EQ(parse_precision("f16"), app::train::Precision::f16);
  EXPECT_EQ(*half_dtype(app::train::Precision::f16), DType::f16);
  EXPECT_FALSE(half_dtype(app::train::Precision::f32).has_value());
  try {
    parse_precision("fp16");
    FAIL() << "fp16 accepted";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--precision"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fp16"), std::string::npos) << e.what();
  }
  TrainOptions o;
  o.output_dir = "x";
  o.precision = "half";
  EXPECT_THROW(o.validate(), engine::ConfigError);
  o.precision = "f16", o.loss_scale = 0;
  EXPECT_THROW(o.validate(), engine::ConfigError);
  apply_json(o, {{"precision", "bf16"}, {"loss_scale", 1024.0}});
  EXPECT_EQ(o.precision, "bf16");
  EXPECT_NO_THROW(o.validate());
}

TEST_F(MixedPrecision, Bf16LoraStoresFrozenWeightsInBf16KeepsTrainableF32AndTracksTheF32Loss) {
  const Dataset data = tiny_data();
  auto ref = with_method("lora", {{"target_modules", {"c_attn", "c_fc"}}});
  PeftTarget ref_target(ref);
  const TrainResult f32 = train(ref_target, data, options("f32", "f32"));
  EXPECT_EQ(f32.cast_tensors, 0);
  for (auto& [name, p] : ref->base().named_parameters()) EXPECT_EQ(p.dtype(), DType::f32) << name;

  auto half = with_method("lora", {{"target_modules", {"c_attn", "c_fc"}}});
  PeftTarget half_target(half);
  const TrainResult bf16 = train(half_target, data, options("bf16", "bf16"));
  EXPECT_GT(bf16.cast_tensors, 5);
  int64_t frozen_numel = 0;
  for (auto& [name, p] : half->base().named_parameters()) {
    const bool trainable = p.requires_grad();
    EXPECT_EQ(p.dtype(), trainable ? DType::f32 : DType::bf16) << name;
    if (!trainable) frozen_numel += p.numel();
  }
  EXPECT_EQ(bf16.cast_numel, frozen_numel);
  for (const auto& [name, t] : half->trainable_parameters()) EXPECT_EQ(t.dtype(), DType::f32) << name;

  // The losses of every step stay within a few % of the f32 run's, and are not all equal to them.
  const auto a = logged_losses(options("f32", "f32").output_dir), b = logged_losses(options("bf16", "bf16").output_dir);
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), a.size());
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(std::isfinite(b[i]));
    EXPECT_NEAR(b[i], a[i], 0.03 * a[i]) << "step " << i + 1;
    differs |= a[i] != b[i];
  }
  EXPECT_TRUE(differs) << "bf16 gave the f32 losses bit for bit: autocast did not run";

  // Files hold f32: the checkpoint's trainable tensors and the adapter.
  const fs::path ckpt = fs::path(options("bf16", "bf16").output_dir) / "checkpoint" / "trainable";
  for (const auto& [name, t] : engine::io::load_safetensors(ckpt / "trainable_params.safetensors"))
    EXPECT_EQ(t.dtype(), DType::f32) << name;
  for (const auto& [name, t] : engine::io::load_safetensors(ckpt / "adapter_model.safetensors"))
    EXPECT_EQ(t.dtype(), DType::f32) << name;
  std::ifstream state(ckpt.parent_path() / "trainer_state.json");
  EXPECT_EQ(nlohmann::json::parse(state).value("precision", ""), "bf16");
}

TEST_F(MixedPrecision, F16WithATinyOrTheDefaultLossScaleTrainsWithoutSkipping) {
  const Dataset data = tiny_data();
  auto ref = with_method("lora");
  PeftTarget ref_target(ref);
  train(ref_target, data, options("f32", "f32"));
  const auto a = logged_losses(options("f32", "f32").output_dir);
  for (double scale : {1.0 / 256, 65536.0}) {
    auto m = with_method("lora");
    PeftTarget target(m);
    TrainOptions o = options("f16_" + std::to_string(int(scale)), "f16");
    o.loss_scale = scale;
    const TrainResult r = train(target, data, o);
    EXPECT_EQ(r.skipped_steps, 0) << scale;
    EXPECT_EQ(r.loss_scale, scale);  // 6 clean steps: no growth before 2000
    for (auto& [name, p] : m->base().named_parameters())
      EXPECT_EQ(p.dtype(), p.requires_grad() ? DType::f32 : DType::f16) << name;
    const auto b = logged_losses(o.output_dir);
    ASSERT_EQ(b.size(), a.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 0.05 * a[i]) << "scale " << scale << " step " << i + 1;
    for (const auto& rec : read_metrics(fs::path(o.output_dir) / "metrics.jsonl")) {
      EXPECT_EQ(rec.at("skipped_steps").get<int64_t>(), 0);
      EXPECT_EQ(rec.at("loss_scale").get<double>(), scale);
    }
  }
}

TEST_F(MixedPrecision, F16OverflowSkipsEveryStepLeavesParametersAndHalvesTheScale) {
  const Dataset data = tiny_data();
  auto m = with_method("lora");
  PeftTarget target(m);
  const auto before = values(m->trainable_parameters());
  TrainOptions o = options("overflow", "f16");
  o.loss_scale = std::ldexp(1.0, 40), o.max_steps = 3;
  const TrainResult r = train(target, data, o);  // no DivergedError: an inf gradient is the scaler's business
  EXPECT_EQ(r.steps, 3);
  EXPECT_EQ(r.skipped_steps, 3);
  EXPECT_EQ(r.loss_scale, std::ldexp(1.0, 37));
  EXPECT_EQ(values(m->trainable_parameters()), before);  // no step was taken
  const auto records = read_metrics(fs::path(o.output_dir) / "metrics.jsonl");
  ASSERT_EQ(records.size(), 3u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].at("skipped_steps").get<int64_t>(), int64_t(i) + 1);
    EXPECT_EQ(records[i].at("loss_scale").get<double>(), std::ldexp(1.0, 39 - int(i)));
    EXPECT_TRUE(records[i].at("grad_norm").is_null());
    EXPECT_TRUE(std::isfinite(records[i].at("loss").get<double>()));
  }
  // AdaLoRA's after-step hook reads the gradients of skipped steps too (zeros, not inf/NaN).
  auto ada = with_method("adalora");
  PeftTarget ada_target(ada);
  TrainOptions ao = options("overflow_adalora", "f16");
  ao.loss_scale = std::ldexp(1.0, 40), ao.max_steps = 3;
  EXPECT_EQ(train(ada_target, data, ao).skipped_steps, 3);
  for (const std::vector<float>& tensor : values(ada->trainable_parameters()))
    for (float v : tensor) ASSERT_TRUE(std::isfinite(v));
}

TEST_F(MixedPrecision, F16RecoveringRunResumedFromItsCheckpointIsBitIdenticalToAStraightRun) {
  const Dataset data = tiny_data();
  auto options_for = [&](const std::string& name, int64_t steps) {
    TrainOptions o = options(name, "f16");
    o.loss_scale = std::ldexp(1.0, 26), o.loss_scale_growth_interval = 3, o.max_steps = steps;
    o.schedule = "constant";
    return o;
  };
  auto straight = with_method("lora", nlohmann::json::object(), /*dropout=*/0.1);
  PeftTarget straight_target(straight);
  const auto before = values(straight->trainable_parameters());
  const TrainResult s = train(straight_target, data, options_for("straight", 14));
  // From 2^26 the scale must fall before steps succeed, and then the parameters move.
  EXPECT_GE(s.skipped_steps, 1);
  EXPECT_LT(s.skipped_steps, 14);
  EXPECT_NE(values(straight->trainable_parameters()), before);

  auto first = with_method("lora", nlohmann::json::object(), 0.1);
  PeftTarget first_target(first);
  const TrainResult half = train(first_target, data, options_for("resumed", 7));
  std::ifstream state(fs::path(options_for("resumed", 7).output_dir) / "checkpoint" / "trainer_state.json");
  const nlohmann::json j = nlohmann::json::parse(state);
  ASSERT_TRUE(j.contains("loss_scaler")) << j.dump();
  EXPECT_EQ(j["loss_scaler"]["scale"].get<double>(), half.loss_scale);
  EXPECT_EQ(j["skipped_steps"].get<int64_t>(), half.skipped_steps);

  auto second = with_method("lora", nlohmann::json::object(), 0.1);
  PeftTarget second_target(second);
  const TrainResult r = train(second_target, data, options_for("resumed", 14));
  EXPECT_EQ(r.resumed_from, 7);
  EXPECT_EQ(r.loss_scale, s.loss_scale);
  EXPECT_EQ(r.skipped_steps, s.skipped_steps);
  EXPECT_EQ(values(second->trainable_parameters()), values(straight->trainable_parameters()));
}

TEST_F(MixedPrecision, EveryMethodPresetTrainsInBf16WithF32TrainableTensors) {
  const Dataset data = tiny_data();
  for (const auto& preset : peft::method_presets()) {
    SCOPED_TRACE(preset.name);
    nlohmann::json overrides = nlohmann::json::object();
    if (preset.name == "diff_pruning") overrides["fix_step"] = 2;  // the switch to masked W happens mid-run
    if (preset.peft_type == "COMPACTER") overrides["reduction_factor"] = 8;  // a bottleneck phm_dim 4 divides
    auto run = [&](const std::string& precision) {
      auto m = with_method(preset.name, overrides);
      if (auto* fish = dynamic_cast<peft::fish_mask::FishMaskAdapter*>(&m->adapter("default")))
        fish->select([&] { return m->forward(data.collate(std::vector<size_t>{0, 1, 2, 3}, 1)).loss; }, 2);
      PeftTarget target(m);
      TrainOptions o = options(preset.name + "_" + precision, precision);
      o.max_steps = 3;
      train(target, data, o);
      return std::make_pair(m, logged_losses(o.output_dir));
    };
    const std::vector<double> a = run("f32").second;
    const auto [m, b] = run("bf16");
    ASSERT_EQ(b.size(), 3u);
    for (double l : b) EXPECT_TRUE(std::isfinite(l));
    EXPECT_NEAR(b[0], a[0], 0.03 * a[0]);  // the same initial model, one forward apart
    for (const auto& [name, t] : m->trainable_parameters()) EXPECT_EQ(t.dtype(), DType::f32) << name;
    for (auto& [name, p] : m->base().named_parameters())
      if (p.requires_grad() || engine::grad_mask(p)) EXPECT_EQ(p.dtype(), DType::f32) << name;
  }
}
