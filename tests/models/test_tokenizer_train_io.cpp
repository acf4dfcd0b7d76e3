// Trained tokenizers on disk: train -> save_atomically -> load_tokenizer gives the same
// tokenizer, byte-level BPE round-trips any UTF-8 text exactly, saving is all-or-nothing,
// and training on tinyshakespeare (../shared) compresses it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "models/tokenizers/train/corpus.h"
#include "models/tokenizers/train/train.h"
#include "models/tokenizers/unicode/unicode.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;
using models::train::TrainOptions;

// A fresh folder under the temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("peft_toktrain_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TrainOptions options(std::size_t vocab_size) {
  TrainOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = 1;
  return o;
}

const std::vector<std::string> kText = {
    "Hello world! Héllo wörld, 日本語のテキスト.\n", "Emoji: 🙂🚀👍🏽 and a flag 🇫🇷.\n",
    "  indented\tline with tabs\r\n", "numbers 12345 and 3.14159; don't stop, we'll go.\n"};

// Random UTF-8 text: ASCII, Latin-1, CJK, emoji, whitespace and controls.
std::string random_text(std::mt19937& rng) {
  const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E}, {0x00, 0x1F}, {0xA0, 0x17F}, {0x4E00, 0x4FFF}, {0x1F300, 0x1F64F}, {0x2000, 0x206F}};
  std::u32string s;
  const int n = std::uniform_int_distribution<int>(0, 40)(rng);
  for (int i = 0; i < n; ++i) {
    const auto& [lo, hi] = ranges[std::uniform_int_distribution<std::size_t>(0, ranges.size() - 1)(rng)];
    s.push_back(std::uniform_int_distribution<uint32_t>(lo, hi)(rng));
  }
  return models::unicode::to_utf8(s);
}

TEST(TokenizerTrainIO, BpeSavesLoadsAndRoundTripsAnyText) {
  TempDir dir("bpe");
  const auto trained = models::train::train_bpe(kText, options(400));
  models::train::save_atomically(*trained.tokenizer, dir.path / "tok");
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
    EXPECT_TRUE(fs::exists(dir.path / "tok" / f)) << f;
  const auto loaded = models::load_tokenizer(dir.path / "tok");
  ASSERT_EQ(loaded->kind(), "bpe");
  EXPECT_EQ(loaded->vocab_size(), trained.tokenizer->vocab_size());
  EXPECT_EQ(loaded->eos_id(), 0);

  std::mt19937 rng(7);
  std::vector<std::string> texts(kText.begin(), kText.end());
  for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng));
  for (const std::string& text : texts) {
    const models::Encoding a = trained.tokenizer->encode(text), b = loaded->encode(text);
    EXPECT_EQ(a.ids, b.ids) << text;
    EXPECT_EQ(loaded->decode(b.ids, false, false), text);
  }
}

TEST(TokenizerTrainIO, WordPieceSavesAndLoads) {
  TempDir dir("wordpiece");
  TrainOptions o = options(300);
  o.lowercase = true;
  const auto trained = models::train::train_wordpiece(kText, o);
  models::train::save_atomically(*trained.tokenizer, dir.path / "tok");
  const auto loaded = models::load_tokenizer(dir.path / "tok");
  ASSERT_EQ(loaded->kind(), "wordpiece");
  EXPECT_EQ(loaded->vocab_size(), trained.tokenizer->vocab_size());
  EXPECT_EQ(loaded->cls_id(), 2);
  for (const std::string& text : kText) {
    EXPECT_EQ(loaded->encode(text).ids, trained.tokenizer->encode(text).ids) << text;
    for (const std::string& t : loaded->tokenize(text)) EXPECT_NE(t, "[UNK]") << text;
  }
  EXPECT_EQ(loaded->tokenize("HÉLLO"), loaded->tokenize("hello"));  // do_lower_case was saved
}

TEST(TokenizerTrainIO, SaveReplacesFilesAndLeavesNoStaging) {
  TempDir dir("replace");
  const fs::path out = dir.path / "tok";
  fs::create_directories(out);
  std::ofstream(out / "vocab.json") << "stale";
  std::ofstream(out / "README") << "kept";
  const auto trained = models::train::train_bpe(kText, options(300));
  models::train::save_atomically(*trained.tokenizer, out.string() + "/");
  EXPECT_EQ(models::load_tokenizer(out)->vocab_size(), trained.tokenizer->vocab_size());
  EXPECT_TRUE(fs::exists(out / "README"));
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir.path))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

TEST(TokenizerTrainIO, SaveOntoAFileFailsAndWritesNothing) {
  TempDir dir("onto_file");
  const fs::path out = dir.path / "tok";
  std::ofstream(out) << "a file";
  const auto trained = models::train::train_bpe(kText, options(300));
  EXPECT_THROW(models::train::save_atomically(*trained.tokenizer, out), engine::IOError);
  EXPECT_TRUE(fs::is_regular_file(out));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
}

// tinyshakespeare: ~1 MB; a 2000-token vocabulary must bring words close to one token each.
TEST(TokenizerTrainIO, TinyShakespeareCompresses) {
  SKIP_WITHOUT_SHARED("data/tinyshakespeare/input.txt");
  const auto texts = models::train::read_corpus({test_support::shared_path("data/tinyshakespeare/input.txt")});
  TrainOptions o;
  o.vocab_size = 2000;
  const auto bpe = models::train::train_bpe(texts, o);
  EXPECT_EQ(bpe.tokenizer->vocab_size(), 2000);
  EXPECT_LT(bpe.stats.tokens_per_word(), 1.5);
  const std::string head = texts[0].substr(0, 4000);
  EXPECT_EQ(bpe.tokenizer->decode(bpe.tokenizer->encode(head).ids, false, false), head);
  std::printf("bpe: %.3f tokens/word, %.2f s\n", bpe.stats.tokens_per_word(), bpe.stats.seconds);

  o.lowercase = true;
  const auto wordpiece = models::train::train_wordpiece(texts, o);
  EXPECT_EQ(wordpiece.tokenizer->vocab_size(), 2000);
  EXPECT_LT(wordpiece.stats.tokens_per_word(), 1.5);
  std::printf("wordpiece: %.3f tokens/word, %.2f s\n", wordpiece.stats.tokens_per_word(), wordpiece.stats.seconds);
}

}  // namespace
