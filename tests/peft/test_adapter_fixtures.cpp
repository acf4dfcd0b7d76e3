// Golden test for every adapter in ../shared/fixtures/<case>/adapter/<method>: `peft dump
// --adapter` loads the file PEFT wrote, runs the case's inputs and writes the outputs, the
// gradients of every trainable adapter tensor and (for mergeable methods) the outputs after
// merge_and_unload; check_case.py compares them all with what transformers + peft computed.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "engine/io/tensor_io.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;
using test_support::quote;
using test_support::run_command;

struct AdapterCase {
  std::string model_case, method;
};

std::string case_name(const ::testing::TestParamInfo<AdapterCase>& info) {
  return info.param.model_case + "_" + info.param.method;
}

class AdapterFixture : public ::testing::TestWithParam<AdapterCase> {};

TEST_P(AdapterFixture, MatchesPeft) {
  const AdapterCase c = GetParam();
  const std::string rel = "fixtures/" + c.model_case + "/adapter/" + c.method;
  SKIP_WITHOUT_SHARED(rel);
  const std::string python = test_support::python_with_numpy();
  if (python.empty()) GTEST_SKIP() << "no python3 with numpy to run check_case.py";
  const fs::path peft = test_support::peft_binary();
  ASSERT_TRUE(fs::exists(peft)) << peft << " is not built";

  const fs::path case_dir = test_support::shared_path("fixtures/" + c.model_case);
  const fs::path adapter_dir = test_support::shared_path(rel);
  const bool has_merged = engine::io::load_safetensors(adapter_dir / "expected.safetensors").count("merged.logits") > 0;
  const fs::path out = fs::path(::testing::TempDir()) / ("adapter_" + c.model_case + "_" + c.method + ".safetensors");
  auto dump = run_command(quote(peft) + " dump --grads --model " + quote(case_dir / "model") + " --inputs " +
                          quote(case_dir / "inputs.json") + " --adapter " + quote(adapter_dir) + " --out " + quote(out) +
                          (has_merged ? " --merged" : ""));
  ASSERT_EQ(dump.status, 0) << dump.output;
  auto check = run_command(python + " " + quote(test_support::shared_path("fixtures/check_case.py")) + " " +
                           quote(adapter_dir) + " " + quote(out) + " --require-all --quiet");
  EXPECT_EQ(check.status, 0) << check.output;
  std::cout << check.output;
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Lora, AdapterFixture,
                         ::testing::Values(AdapterCase{"bert_seqcls", "lora"}, AdapterCase{"bert_seqcls", "lora_rslora"},
                                           AdapterCase{"bert_seqcls", "lora_dora"}, AdapterCase{"gpt2", "lora"},
                                           AdapterCase{"t5", "lora"}),
                         case_name);

INSTANTIATE_TEST_SUITE_P(OrthogonalScalingNorm, AdapterFixture,
                         ::testing::Values(AdapterCase{"bert_seqcls", "oft"}, AdapterCase{"bert_seqcls", "boft"},
                                           AdapterCase{"bert_seqcls", "ia3"}, AdapterCase{"gpt2", "ia3"},
                                           AdapterCase{"t5", "ia3"}, AdapterCase{"bert_seqcls", "ln_tuning"}),
                         case_name);

INSTANTIATE_TEST_SUITE_P(AdaloraVeraLohaLokr, AdapterFixture,
                         ::testing::Values(AdapterCase{"bert_seqcls", "adalora"}, AdapterCase{"bert_seqcls", "vera"},
                                           AdapterCase{"bert_seqcls", "loha"}, AdapterCase{"bert_seqcls", "lokr"}),
                         case_name);

INSTANTIATE_TEST_SUITE_P(PromptLearning, AdapterFixture,
                         ::testing::Values(AdapterCase{"bert_seqcls", "prompt_tuning"}, AdapterCase{"bert_seqcls", "p_tuning"},
                                           AdapterCase{"bert_seqcls", "prefix_tuning"}, AdapterCase{"gpt2", "prompt_tuning"},
                                           AdapterCase{"gpt2", "p_tuning"}, AdapterCase{"gpt2", "prefix_tuning"},
                                           AdapterCase{"t5", "prompt_tuning"}, AdapterCase{"t5", "prefix_tuning"}),
                         case_name);

}  // namespace
