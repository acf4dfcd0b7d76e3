// Golden test: for every reference case in ../shared/fixtures, `peft dump --grads` runs the
// checkpoint on the case's inputs and check_case.py compares every output and every
// parameter gradient with what transformers computed (--require-all: nothing may be missing).
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;

const std::vector<std::string> kCases = {"bert", "bert_mlm", "bert_seqcls", "gpt2", "t5"};

using test_support::CommandResult;
using test_support::quote;
using test_support::run_command;

// meta.json's "near_zero_grads" names as one anchored regex alternation, or "".
std::string near_zero_regex(const fs::path& meta_file) {
  std::ifstream in(meta_file);
  const nlohmann::json meta = nlohmann::json::parse(in);
  std::string alternatives;
  if (meta.contains("near_zero_grads"))
    for (const auto& [name, value] : meta["near_zero_grads"].items())
      alternatives += (alternatives.empty() ? "" : "|") + std::regex_replace(name, std::regex(R"(\.)"), R"(\.)");
  return alternatives.empty() ? "" : "^(?:" + alternatives + ")$";
}

class FixtureCase : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureCase, DumpMatchesTransformers) {
  const std::string name = GetParam();
  SKIP_WITHOUT_SHARED("fixtures/" + name);
  const std::string python = test_support::python_with_numpy();
  if (python.empty()) GTEST_SKIP() << "no python3 with numpy to run check_case.py";
  const fs::path peft = fs::path(PEFT_BINARY_DIR) / "app" / "peft";
  ASSERT_TRUE(fs::exists(peft)) << peft << " is not built (build the peft_cli target)";

  const fs::path dir = test_support::shared_path("fixtures/" + name);
  const fs::path out = fs::path(::testing::TempDir()) / ("fixture_" + name + ".safetensors");
  CommandResult dump = run_command(quote(peft) + " dump --grads --model " + quote(dir / "model") + " --inputs " +
                                   quote(dir / "inputs.json") + " --out " + quote(out));
  ASSERT_EQ(dump.status, 0) << dump.output;

  // Gradients that are mathematically zero (BERT's key biases) hold float round-off; the
  // reference's own float32 run is ~7e-7 off, so they get an absolute tolerance instead.
  const std::string near_zero = near_zero_regex(dir / "meta.json");
  const std::string check_cmd = python + " " + quote(test_support::shared_path("fixtures/check_case.py")) + " " +
                                quote(dir) + " " + quote(out) + " --require-all --quiet";
  CommandResult check = run_command(check_cmd + (near_zero.empty() ? "" : " --only '^(?!" + near_zero + ")'"));
  EXPECT_EQ(check.status, 0) << check.output;
  std::cout << check.output;
  if (!near_zero.empty()) {
    CommandResult zero = run_command(check_cmd + " --only '" + near_zero + "' --atol 1e-5");
    EXPECT_EQ(zero.status, 0) << zero.output;
  }
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureCase, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

// A new case in ../shared/fixtures must be added to kCases, not silently left out.
TEST(Fixtures, EveryCaseIsListed) {
  SKIP_WITHOUT_SHARED("fixtures");
  const std::set<std::string> listed(kCases.begin(), kCases.end());
  for (const auto& entry : fs::directory_iterator(test_support::shared_path("fixtures")))
    if (fs::exists(entry.path() / "expected.safetensors") && fs::exists(entry.path() / "model"))
      EXPECT_TRUE(listed.count(entry.path().filename().string())) << entry.path() << " is not tested";
}

}  // namespace
