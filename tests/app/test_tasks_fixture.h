// Shared by the task / train / eval CLI tests: tiny BERT and GPT-2 checkpoint folders made in
// the test (a tokenizer trained on the test's own sentences + a random 1-layer model), small
// data files, and running the built `peft` program.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/train/pretrain.h"
#include "models/model.h"
#include "models/tokenizers/train/train.h"
#include "support/test_support.h"

namespace tasks_test {
namespace fs = std::filesystem;

// A fresh folder named after the running test.
inline fs::path test_dir(const std::string& suite) {
  const fs::path dir = fs::temp_directory_path() /
                       ("peft_" + suite + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// 48 sentences of two sentiments, "text,label" CSV with a header; `offset` varies the draw.
inline std::string sentiment_csv(int rows, int offset = 0) {
  const char* pos[] = {"great", "good", "fun", "lovely"};
  const char* neg[] = {"bad", "awful", "boring", "dull"};
  std::string csv = "text,label\n";
  for (int i = 0; i < rows; ++i) {
    const int k = i + offset, label = (k * 7 + 3) % 5 < 2 ? 1 : 0;
    csv += std::string("the film was ") + (label ? pos[k % 4] : neg[k % 4]) + (k % 3 ? " and long" : " indeed") +
           "," + std::to_string(label) + "\n";
  }
  return csv;
}

inline std::string e2e_csv() {
  return "mr,ref\n"
         "\"name[The Eagle], eatType[coffee shop]\",The Eagle is a coffee shop.\n"
         "\"name[The Eagle], eatType[coffee shop]\",There is a coffee shop called The Eagle.\n"
         "\"name[Alimentum], food[Italian]\",Alimentum serves Italian food.\n"
         "\"name[Cotto], area[riverside]\",Cotto is by the riverside.\n";
}

// A random 1-layer model of `arch` (bert: BertForMaskedLM, gpt2: GPT2LMHeadModel) with a
// tokenizer trained on `corpus`, saved as an HF checkpoint folder.
inline fs::path tiny_checkpoint(const fs::path& folder, const std::string& arch, const std::vector<std::string>& corpus) {
  models::train::TrainOptions t;
  t.min_frequency = 1;
  std::unique_ptr<models::Tokenizer> tok;
  if (arch == "bert") {
    t.vocab_size = 120;
    tok = std::move(models::train::train_wordpiece(corpus, t).tokenizer);
  } else {
    t.vocab_size = 320;
    tok = std::move(models::train::train_bpe(corpus, t).tokenizer);
  }
  app::train::PretrainOptions o;
  o.arch = arch, o.layers = 1, o.hidden = 16, o.heads = 2, o.context = 64;
  const nlohmann::json config = app::train::pretrain_model_config(o, *tok);
  models::ModelPtr model = models::create_model(config, config["architectures"][0], /*seed=*/7);
  models::save_pretrained(*model, folder);
  tok->save(folder);
  return folder;
}

// Runs `peft <args>`; stderr is dropped when `keep_stderr` is false (for parsing stdout).
inline test_support::CommandResult run_peft(const std::string& args, bool keep_stderr = true) {
  const std::string cmd = test_support::quote(test_support::peft_binary()) + " " + args;
  return test_support::run_command(keep_stderr ? cmd : "( " + cmd + " 2>/dev/null )");
}

// A fixture for `peft train` runs on sentiment data: train.csv (40 rows), dev.csv (12 rows)
// and a tiny BERT whose tokenizer was trained on the same sentences, all in dir_.
class SentimentCliTest : public ::testing::Test {
 protected:
  explicit SentimentCliTest(std::string suite) : suite_(std::move(suite)) {}
  void SetUp() override {
    dir_ = test_dir(suite_);
    write_file(dir_ / "train.csv", sentiment_csv(40));
    write_file(dir_ / "dev.csv", sentiment_csv(12, 100));
    std::vector<std::string> corpus;
    for (int i = 0; i < 60; ++i) corpus.push_back(sentiment_csv(1, i).substr(11));
    bert_ = tiny_checkpoint(dir_ / "bert", "bert", corpus);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string suite_;
  fs::path dir_, bert_;
};

}  // namespace tasks_test
