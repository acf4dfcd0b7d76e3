// `peft merge` and `peft inspect` on the reference adapters: the merged folder is a plain HF
// checkpoint whose logits equal PEFT's merge_and_unload logits; inspect names the method.
#include <filesystem>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/io/tensor_io.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;
using test_support::quote;
using test_support::run_command;

float max_abs_diff(const engine::Tensor& a, const engine::Tensor& b) {
  return engine::max(engine::abs(a - b)).item<float>();
}

TEST(PeftMergeCli, MergedCheckpointReproducesPeftMergedLogits) {
  SKIP_WITHOUT_SHARED("fixtures/gpt2/adapter/lora");
  const fs::path fx = test_support::shared_path("fixtures/gpt2");
  const fs::path out = fs::path(::testing::TempDir()) / "merged_gpt2_lora";
  auto merge = run_command(quote(test_support::peft_binary()) + " merge --model " + quote(fx / "model") + " --adapter " +
                           quote(fx / "adapter/lora") + " --out " + quote(out));
  ASSERT_EQ(merge.status, 0) << merge.output;
  for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt"}) EXPECT_TRUE(fs::exists(out / f)) << f;

  const fs::path dumped = out / "dump.safetensors";
  auto dump = run_command(quote(test_support::peft_binary()) + " dump --model " + quote(out) + " --inputs " +
                          quote(fx / "inputs.json") + " --out " + quote(dumped));
  ASSERT_EQ(dump.status, 0) << dump.output;
  auto ours = engine::io::load_safetensors(dumped);
  auto expected = engine::io::load_safetensors(fx / "adapter/lora/expected.safetensors");
  const engine::Tensor& ref = expected.at("merged.logits");
  EXPECT_LE(max_abs_diff(ours.at("logits"), ref), 1e-4f * engine::max(engine::abs(ref)).item<float>() + 1e-6f);
  fs::remove_all(out);
}

TEST(PeftMergeCli, RefusesToOverwriteTheBase) {
  SKIP_WITHOUT_SHARED("fixtures/gpt2/adapter/lora");
  const fs::path fx = test_support::shared_path("fixtures/gpt2");
  auto merge = run_command(quote(test_support::peft_binary()) + " merge --model " + quote(fx / "model") + " --adapter " +
                           quote(fx / "adapter/lora") + " --out " + quote(fx / "model"));
  EXPECT_NE(merge.status, 0);
  EXPECT_NE(merge.output.find("--out must differ"), std::string::npos) << merge.output;
}

TEST(PeftInspectCli, SummarisesModelAndAdapter) {
  SKIP_WITHOUT_SHARED("fixtures/bert_seqcls/adapter/lora");
  const fs::path fx = test_support::shared_path("fixtures/bert_seqcls");
  auto r = run_command(quote(test_support::peft_binary()) + " inspect --model " + quote(fx / "model") + " --adapter " +
                       quote(fx / "adapter/lora"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("BertForSequenceClassification"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("LORA"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("base_model.model.classifier.weight [3,32]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("all params: "), std::string::npos) << r.output;
}

TEST(PeftInspectCli, MissingAdapterFolderIsOneReadableLine) {
  SKIP_WITHOUT_SHARED("fixtures/bert_seqcls/model");
  const fs::path fx = test_support::shared_path("fixtures/bert_seqcls");
  auto r = run_command(quote(test_support::peft_binary()) + " inspect --model " + quote(fx / "model") +
                       " --adapter /nonexistent/adapter");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("/nonexistent/adapter"), std::string::npos) << r.output;
}

}  // namespace
