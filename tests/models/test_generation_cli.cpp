// `peft generate` end to end on the real HF folder tiny-gpt2-random: prompts from --prompt or
// --file, greedy / beam / sampling flags, JSON output, and a readable error for bad flags.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;

struct Result {
  int status;
  std::string output;
};

Result peft(const std::string& args) {
  const fs::path binary = fs::path(PEFT_BINARY_DIR) / "app" / "peft";
  Result r{-1, ""};
  FILE* pipe = popen(("'" + binary.string() + "' " + args + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  r.status = pclose(pipe);
  return r;
}

class GenerateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fs::path(PEFT_BINARY_DIR) / "app" / "peft")) GTEST_SKIP() << "build the peft_cli target";
  }
  const std::string model = "--model '" + test_support::shared_path("models/tiny-gpt2-random").string() + "' ";
};

TEST_F(GenerateCli, GreedyAndBeamsFromPromptsAndFiles) {
  SKIP_WITHOUT_SHARED("models/tiny-gpt2-random");
  Result greedy = peft("generate " + model + "--prompt 'Hello world' --max-new-tokens 5 --json");
  ASSERT_EQ(greedy.status, 0) << greedy.output;
  const auto report = nlohmann::json::parse(greedy.output);
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0]["prompt"], "Hello world");
  EXPECT_EQ(report[0]["tokens"].size(), 5u);  // no eos in 5 tokens of this model

  const fs::path file = fs::path(::testing::TempDir()) / "prompts.txt";
  std::ofstream(file) << "Hello\n\nThe quick brown fox\n";
  Result beams = peft("generate " + model + "--file '" + file.string() + "' --beams 3 --max-new-tokens 4 --json");
  ASSERT_EQ(beams.status, 0) << beams.output;
  const auto beam_report = nlohmann::json::parse(beams.output);
  ASSERT_EQ(beam_report.size(), 2u);  // the empty line is not a prompt
  EXPECT_TRUE(beam_report[1].contains("score"));

  Result sampled = peft("generate " + model + "--prompt Hi --sample --top-k 5 --seed 3 --max-new-tokens 3");
  EXPECT_EQ(sampled.status, 0) << sampled.output;
  EXPECT_EQ(peft("generate " + model + "--prompt Hi --sample --top-k 5 --seed 3 --max-new-tokens 3").output,
            sampled.output);  // seeded
  fs::remove(file);
}

TEST_F(GenerateCli, RejectsConflictingFlags) {
  SKIP_WITHOUT_SHARED("models/tiny-gpt2-random");
  Result both = peft("generate " + model + "--prompt a --file b.txt");
  EXPECT_NE(both.status, 0);
  EXPECT_NE(both.output.find("exactly one of --prompt and --file"), std::string::npos) << both.output;
  Result mixed = peft("generate " + model + "--prompt a --greedy --beams 2");
  EXPECT_NE(mixed.status, 0);
  Result temperature = peft("generate " + model + "--prompt a --sample --temperature 0");
  EXPECT_NE(temperature.output.find("temperature"), std::string::npos) << temperature.output;
}

}  // namespace
