// Tokenizer training (models/tokenizers/train): byte-level BPE and WordPiece merges on tiny
// corpora checked by hand and against HF `tokenizers` 0.23 (the expected lists below were
// produced by its BpeTrainer / WordPieceTrainer on the same text), vocabulary layout,
// determinism, vocab_size / min_frequency limits and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "models/tokenizers/train/corpus.h"
#include "models/tokenizers/train/merge_trainer.h"
#include "models/tokenizers/train/train.h"

namespace {

using models::train::TrainOptions;
using Merges = std::vector<std::pair<std::string, std::string>>;

// Sennrich et al.'s example: low x5, lower x2, newest x6, widest x3 (one line).
const std::vector<std::string> kClassic = {
    "low low low low low lower lower newest newest newest newest newest newest widest widest widest\n"};

TrainOptions options(std::size_t vocab_size, uint64_t min_frequency = 0) {
  TrainOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = min_frequency;
  return o;
}

// By hand: (e,s) and (s,t) both occur 9 times; the tie goes to the smaller ids, "e" < "s".
// Then (es,t) 9; (l,o) and (o,w) 7 each, "l" first; ... HF BpeTrainer learns the same list.
const Merges kClassicMerges = {
    {"e", "s"},   {"es", "t"},   {"l", "o"},     {"lo", "w"},  {"e", "w"},
    {"n", "ew"},  {"Ġ", "low"},  {"Ġ", "new"},   {"Ġnew", "est"}, {"d", "est"},
    {"i", "dest"}, {"w", "idest"}, {"Ġ", "widest"}, {"e", "r"},  {"Ġlow", "er"}};

TEST(TokenizerTrainBpe, ClassicCorpusMergesMatchHF) {
  const auto trained = models::train::train_bpe(kClassic, options(1000));
  EXPECT_EQ(trained.tokenizer->merges(), kClassicMerges);
  EXPECT_EQ(trained.stats.merges, kClassicMerges.size());
  EXPECT_EQ(trained.stats.words, 17u);  // 16 words + the line's "\n"
}

TEST(TokenizerTrainBpe, VocabularyIsSpecialThenBytesThenMerges) {
  const auto trained = models::train::train_bpe(kClassic, options(1000));
  const models::BpeTokenizer& t = *trained.tokenizer;
  EXPECT_EQ(t.id_to_token(0), "<|endoftext|>");
  EXPECT_EQ(t.id_to_token(1), "!");         // byte characters in code point order
  EXPECT_EQ(t.id_to_token(256), "Ń");       // the last of the 256
  EXPECT_EQ(t.id_to_token(257), "es");      // then one token per merge
  EXPECT_EQ(t.vocab_size(), 257 + static_cast<int64_t>(kClassicMerges.size()));
  EXPECT_EQ(t.eos_id(), 0);
  EXPECT_EQ(trained.stats.alphabet, 256u);
}

TEST(TokenizerTrainBpe, StopsAtVocabSize) {
  const auto trained = models::train::train_bpe(kClassic, options(257 + 4));
  const Merges first4(kClassicMerges.begin(), kClassicMerges.begin() + 4);
  EXPECT_EQ(trained.tokenizer->merges(), first4);
  EXPECT_EQ(trained.tokenizer->vocab_size(), 261);
}

TEST(TokenizerTrainBpe, MinFrequencyStopsRarePairs) {
  // Counts: es/est 9, lo/low 7, ew/new/Ġnew/Ġnewest 6; the next pair, (d,est), occurs 3 times.
  const auto trained = models::train::train_bpe(kClassic, options(1000, 4));
  const Merges expected(kClassicMerges.begin(), kClassicMerges.begin() + 9);
  EXPECT_EQ(trained.tokenizer->merges(), expected);
}

TEST(TokenizerTrainBpe, DeterministicAndIndependentOfLineOrder) {
  const std::vector<std::string> text = {"the cat sat on the mat\nthe dog sat on the log\n",
                                         "a cat and a dog\nthat is all\n"};
  const std::vector<std::string> reordered = {"that is all\na cat and a dog\n",
                                              "the dog sat on the log\nthe cat sat on the mat\n"};
  const auto a = models::train::train_bpe(text, options(300));
  const auto b = models::train::train_bpe(text, options(300));
  const auto c = models::train::train_bpe(reordered, options(300));
  EXPECT_EQ(a.tokenizer->merges(), b.tokenizer->merges());
  EXPECT_EQ(a.tokenizer->merges(), c.tokenizer->merges());
  ASSERT_EQ(a.tokenizer->vocab_size(), c.tokenizer->vocab_size());
  for (int64_t id = 0; id < a.tokenizer->vocab_size(); ++id)
    EXPECT_EQ(a.tokenizer->id_to_token(id), c.tokenizer->id_to_token(id));
}

TEST(TokenizerTrainBpe, CompressesTheTrainingWords) {
  const auto trained = models::train::train_bpe(kClassic, options(1000));
  // Every word of the corpus became one token: 17 tokens for 17 words.
  EXPECT_EQ(trained.stats.tokens, trained.stats.words);
  EXPECT_EQ(trained.tokenizer->tokenize("lowest newer"), (std::vector<std::string>{"low", "est", "Ġnew", "er"}));
}

TEST(TokenizerTrainBpe, RejectsBadInput) {
  EXPECT_THROW(models::train::train_bpe(kClassic, options(100)), engine::ConfigError);  // < 257
  EXPECT_THROW(models::train::train_bpe(std::vector<std::string>{""}, options(1000)), engine::IOError);
  EXPECT_THROW(models::train::train_bpe(std::vector<std::string>{" \n\t\n"}, options(1000)), engine::IOError);
  EXPECT_THROW(models::train::train_bpe(std::vector<std::string>{}, options(1000)), engine::IOError);
  TrainOptions lower = options(1000);
  lower.lowercase = true;
  EXPECT_THROW(models::train::train_bpe(kClassic, lower), engine::ConfigError);
}

TEST(TokenizerTrainBpe, AdditionalSpecialTokensFollowEndOfText) {
  TrainOptions o = options(1000);
  o.additional_special_tokens = {"<pad>", "<|endoftext|>"};  // a repeat is dropped
  const auto trained = models::train::train_bpe(kClassic, o);
  EXPECT_EQ(trained.tokenizer->id_to_token(1), "<pad>");
  EXPECT_EQ(trained.tokenizer->id_to_token(2), "!");
  EXPECT_EQ(trained.tokenizer->special_tokens().additional, std::vector<std::string>{"<pad>"});
  EXPECT_EQ(trained.tokenizer->encode("low<pad>").ids.back(), 1);
}

// By hand, with "##" on non-initial characters: (##e,##s) and (##s,##t) 9 each, ##e first;
// (##es,##t) 9; then (l,##o) and (##o,##w) 7, "l" has the smaller id. HF's WordPieceTrainer
// learns the same tokens; only the order of the "##" characters differs (HF's is hash order,
// here the order of first appearance over the sorted words low, lower, newest, widest).
TEST(TokenizerTrainWordPiece, ClassicCorpusVocabulary) {
  const auto trained = models::train::train_wordpiece(kClassic, options(1000));
  const std::vector<std::string> expected = {
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "d", "e", "i", "l", "n", "o", "r", "s", "t", "w",
      "##o", "##w", "##e", "##r", "##s", "##t", "##i", "##d",
      "##es", "##est", "lo", "low", "ne", "##west", "newest", "wi", "##dest", "widest", "##er", "lower"};
  std::vector<std::string> vocab;
  for (int64_t id = 0; id < trained.tokenizer->vocab_size(); ++id) vocab.push_back(trained.tokenizer->id_to_token(id));
  EXPECT_EQ(vocab, expected);
  EXPECT_EQ(trained.tokenizer->tokenize("lowest wider"),
            (std::vector<std::string>{"low", "##est", "wi", "##d", "##er"}));
}

TEST(TokenizerTrainWordPiece, SpecialTokensFirstAndNoUnknownWords) {
  const std::vector<std::string> text = {
      "Héllo, wörld! The quick brown fox jumps over the lazy dog.\n", "日本語のテキスト and numbers 12345.\n",
      "Don't stop: emoji 🙂 too; tabs\tand CAPS.\n"};
  TrainOptions o = options(400);
  o.lowercase = true;
  const auto trained = models::train::train_wordpiece(text, o);
  const models::WordPieceTokenizer& t = *trained.tokenizer;
  const std::vector<std::string> specials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (int64_t id = 0; id < 5; ++id) EXPECT_EQ(t.id_to_token(id), specials[id]);
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.cls_id(), 2);
  for (const std::string& line : text)
    for (const std::string& token : t.tokenize(line)) EXPECT_NE(token, "[UNK]") << line;
  EXPECT_EQ(t.tokenize("HELLO wörld"), t.tokenize("hello world"));  // lower-cased, accents stripped
  EXPECT_LT(trained.stats.tokens_per_word(), 1.5);
}

TEST(TokenizerTrainWordPiece, LimitAlphabetKeepsTheFrequentCharacters) {
  TrainOptions o = options(1000);
  o.limit_alphabet = 3;
  // a:4 b:3 c:1 z:1 -> keep a b, then c (tied with z, the smaller code point stays).
  const auto trained = models::train::train_wordpiece(std::vector<std::string>{"aab ab ab c z\n"}, o);
  EXPECT_EQ(trained.stats.alphabet, 3u);
  EXPECT_TRUE(trained.tokenizer->token_to_id("c").has_value());
  EXPECT_FALSE(trained.tokenizer->token_to_id("z").has_value());
  EXPECT_EQ(trained.tokenizer->tokenize("z"), std::vector<std::string>{"[UNK]"});
}

TEST(TokenizerTrainWordPiece, RejectsVocabSmallerThanTheAlphabet) {
  try {
    models::train::train_wordpiece(kClassic, options(10));
    FAIL() << "expected a ConfigError";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab size 10"), std::string::npos) << e.what();
  }
}

TEST(TokenizerTrainCorpus, LinesKeepTheirEndings) {
  EXPECT_EQ(models::train::split_lines("a\nb\r\n\nc"),
            (std::vector<std::string_view>{"a\n", "b\r\n", "\n", "c"}));
  EXPECT_TRUE(models::train::split_lines("").empty());
  EXPECT_THROW(models::train::read_corpus({"/nonexistent/corpus.txt"}), engine::IOError);
}

TEST(TokenizerTrainMerges, OverlappingPairsCountExactly) {
  // "aaaa" x1: (a,a) occurs 3 times but merges twice (left to right) into aa aa; then (aa,aa).
  models::train::MergeOptions o;
  o.vocab_size = 100;
  const auto r = models::train::learn_merges({{"aaaa", 1}}, o);
  EXPECT_EQ(r.merges, (Merges{{"a", "a"}, {"aa", "aa"}}));
  EXPECT_EQ(r.words.at(0).size(), 1u);
}

}  // namespace
