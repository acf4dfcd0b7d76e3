// The method comparison behind `peft compare` and the main job: every method trains from the
// same base, the report files appear, and the figures relate as they must (a PEFT method trains
// fewer parameters than full fine-tuning; every method produces a loss curve and metrics).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/study/compare.h"
#include "engine/engine.h"
#include "models/model.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;

// A tiny GPT-2 with the fixture's tokenizer and room for 256 positions.
fs::path tiny_base(const fs::path& dir) {
  const fs::path fixture = test_support::shared_path("fixtures/gpt2/model");
  nlohmann::json config = nlohmann::json::parse(std::ifstream(fixture / "config.json"));
  config["n_positions"] = 256;
  config["resid_pdrop"] = config["embd_pdrop"] = config["attn_pdrop"] = 0.0;
  models::save_pretrained(*models::create_model(config, "GPT2LMHeadModel", 3), dir);
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
    fs::copy_file(fixture / f, dir / f, fs::copy_options::overwrite_existing);
  return dir;
}

std::vector<app::data::DataToTextExample> examples(int n) {
  std::vector<app::data::DataToTextExample> out;
  for (int i = 0; i < n; ++i)
    out.push_back({"name[Blue Door], eatType[pub]", {}, {"Blue Door is a pub.", "The pub Blue Door."}, ""});
  return out;
}

TEST(Study, ComparesMethodsAndWritesTheReport) {
  SKIP_WITHOUT_SHARED("fixtures/gpt2/model");
  const fs::path dir = fs::path(::testing::TempDir()) / "study";
  fs::remove_all(dir);
  fs::create_directories(dir / "base");
  app::study::Task task{tiny_base(dir / "base"), examples(12), examples(2)};
  app::study::CompareOptions o;
  o.steps = 10, o.batch_size = 4, o.eval_records = 2, o.max_new_tokens = 8, o.output_dir = dir / "out", o.progress = false;
  const auto results = app::study::compare(task, app::study::select_methods("full,lora,prompt"), o);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_GT(results[0].trainable, results[1].trainable);  // full > lora
  EXPECT_GT(results[1].trainable, 0);
  for (const auto& r : results) {
    EXPECT_FALSE(r.loss_curve.empty()) << r.spec.label;
    EXPECT_TRUE(r.metrics.count("bleu") && r.metrics.count("rouge_l")) << r.spec.label;
    EXPECT_GT(r.peak_mb, 0) << r.spec.label;
    EXPECT_GT(r.seconds_per_step, 0) << r.spec.label;
  }
  for (const char* f : {"results.json", "results.txt", "loss_curves.svg", "quality_vs_params.svg"})
    EXPECT_TRUE(fs::exists(dir / "out" / f)) << f;
  const auto saved = nlohmann::json::parse(std::ifstream(dir / "out/results.json"));
  ASSERT_EQ(saved.size(), 3u);
  EXPECT_EQ(saved[1]["method"], "lora");
  fs::remove_all(dir);
}

TEST(Study, UnknownMethodListsTheKnownOnes) {
  try {
    app::study::select_methods("lora,nope");
    FAIL() << "expected a KeyError";
  } catch (const engine::KeyError& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("prefix"), std::string::npos);
  }
}

}  // namespace

namespace {

TEST(Study, LearningRateOverrides) {
  auto methods = app::study::select_methods("full,lora");
  app::study::apply_lr_overrides(methods, {"lora=0.25"});
  EXPECT_EQ(methods[1].lr, 0.25);
  EXPECT_NE(methods[0].lr, 0.25);
  EXPECT_THROW(app::study::apply_lr_overrides(methods, {"lora"}), engine::ValueError);
  EXPECT_THROW(app::study::apply_lr_overrides(methods, {"prefix=0.1"}), engine::KeyError);  // not selected
}

}  // namespace
