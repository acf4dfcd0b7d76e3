// `peft tokenizer train` end to end: the program trains, saves a loadable folder and prints
// one summary line; bad input fails with one error line, a non-zero exit and no output folder.
// Runs the built program (the peft_cli target); skips when it has not been built.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/tokenizers/tokenizer.h"

namespace {
namespace fs = std::filesystem;

struct Result {
  int status;
  std::string output;  // stdout and stderr
};

Result run_peft(const std::string& args) {
  const fs::path peft = fs::path(PEFT_BINARY_DIR) / "app" / "peft";
  FILE* pipe = ::popen((peft.string() + " " + args + " 2>&1").c_str(), "r");
  Result r{-1, ""};
  if (!pipe) return r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  r.status = ::pclose(pipe);
  return r;
}

class TokenizerTrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fs::path(PEFT_BINARY_DIR) / "app" / "peft")) GTEST_SKIP() << "build the peft_cli target first";
    dir_ = fs::temp_directory_path() / ("peft_toktrain_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "corpus.txt") << "the cat sat on the mat\nthe dog sat on the log\nHello, world!\n";
    std::ofstream(dir_ / "empty.txt") << " \n\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(TokenizerTrainCli, TrainsBothTypes) {
  for (const std::string type : {"bpe", "wordpiece"}) {
    const std::string lower = type == "wordpiece" ? " --lowercase" : "";
    const Result ok = run_peft("tokenizer train --type " + type + " --input " + path("corpus.txt") +
                               " --input " + path("corpus.txt") + " --vocab-size 300 --min-frequency 1" + lower +
                               " --out " + path(type));
    ASSERT_EQ(ok.status, 0) << ok.output;
    EXPECT_NE(ok.output.find(type + " tokenizer: vocab "), std::string::npos) << ok.output;
    // Two copies of 19 GPT-2 pieces (newlines included) or 16 BERT words.
    const std::string words = type == "bpe" ? "38" : "32";
    EXPECT_NE(ok.output.find("tokens/word over " + words + " words"), std::string::npos) << ok.output;
    const auto tokenizer = models::load_tokenizer(path(type));
    EXPECT_EQ(tokenizer->kind(), type == "bpe" ? "bpe" : "wordpiece");
  }
}

TEST_F(TokenizerTrainCli, BadInputFailsWithOneLineAndWritesNothing) {
  const std::string out = " --out " + path("out");
  const std::string cases[] = {
      "--type bpe --input " + path("missing.txt") + " --vocab-size 300",
      "--type bpe --input " + path("empty.txt") + " --vocab-size 300",
      "--type bpe --input " + path("corpus.txt") + " --vocab-size 100",
      "--type wordpiece --input " + path("corpus.txt") + " --vocab-size 8",
      "--type bpe --lowercase --input " + path("corpus.txt") + " --vocab-size 300",
  };
  for (const std::string& args : cases) {
    fs::remove_all(path("out"));
    const Result r = run_peft("tokenizer train " + args + out);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.output.find("peft: error: [tokenizer train] "), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(path("out"))) << args;
  }
}

}  // namespace
