// The Tokenizer interface on small in-memory tokenizers (no ../shared needed): special
// tokens, padding, truncation, decode, save() -> load_tokenizer round trips, errors, and the
// `peft tokenize` report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "engine/core/error.h"
#include "models/tokenizers/bpe.h"
#include "models/tokenizers/gpt2_pretokenize.h"
#include "models/tokenizers/report.h"
#include "models/tokenizers/sentencepiece_tokenizer.h"
#include "models/tokenizers/unigram_proto.h"
#include "models/tokenizers/wordpiece.h"

namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int64_t>;

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("peft_tokapi_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

models::WordPieceTokenizer small_bert(bool lower_case = true) {
  models::WordPieceTokenizer::Options options;
  options.basic.lower_case = lower_case;
  options.model_max_length = 16;
  return models::WordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "dog", "sat", "run",
                                     "##ning", ".", "hello", "Hello", "caf", "##e"},
                                    options);
}

// Byte-level BPE over "low", "lower", "newest" style merges; every single byte character exists.
models::BpeTokenizer small_gpt2() {
  std::vector<std::string> vocab;
  for (const std::string& c : models::byte_to_unicode()) vocab.push_back(c);
  for (const char* t : {"lo", "low", "er", "\u0120low", "<|endoftext|>"}) vocab.push_back(t);
  return models::BpeTokenizer(vocab, {{"l", "o"}, {"lo", "w"}, {"e", "r"}, {"\u0120", "low"}}, {});
}

// A T5-like Unigram model built from a tokenizer.json in memory.
models::SentencePieceTokenizer small_t5() {
  nlohmann::json vocab = nlohmann::json::array({{"<pad>", 0.0},
                                                {"</s>", 0.0},
                                                {"<unk>", 0.0},
                                                {"\u2581", -2.0},
                                                {"\u2581the", -3.0},
                                                {"\u2581dog", -4.0},
                                                {"s", -5.0},
                                                {"a", -5.0},
                                                {"t", -5.0},
                                                {"d", -5.0},
                                                {"o", -5.0},
                                                {"g", -5.0},
                                                {"h", -5.0},
                                                {"e", -5.0},
                                                {"<extra_id_1>", 0.0},
                                                {"<extra_id_0>", 0.0}});
  nlohmann::json added = nlohmann::json::array();
  for (int id : {0, 1, 2, 14, 15})
    added.push_back({{"id", id}, {"content", vocab[id][0]}, {"special", true}});
  const nlohmann::json tj = {
      {"model", {{"type", "Unigram"}, {"unk_id", 2}, {"vocab", vocab}}},
      {"added_tokens", added},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "WhitespaceSplit"}}, {{"type", "Metaspace"}, {"add_prefix_space", true}}}}}}};
  const models::UnigramProto proto = models::unigram_proto_from_tokenizer_json(tj, "tokenizer.json");
  EXPECT_EQ(proto.extra_ids, 2u);
  models::SentencePieceTokenizer::Options options;
  options.extra_ids = proto.extra_ids;
  return models::SentencePieceTokenizer(proto.serialized, options);
}

TEST(TokenizerApi, BertSpecialTokensAndPairs) {
  const auto tok = small_bert();
  EXPECT_EQ(tok.encode("The dog sat.").ids, (Ids{2, 5, 6, 7, 10, 3}));
  EXPECT_EQ(tok.tokenize("running cafe xyz"),
            (std::vector<std::string>{"run", "##ning", "caf", "##e", "[UNK]"}));
  EXPECT_EQ(tok.tokenize("[MASK] [mask]"), (std::vector<std::string>{"[MASK]", "[UNK]", "[UNK]", "[UNK]"}));
  const models::Encoding pair = tok.encode_pair("the dog", "sat");
  EXPECT_EQ(pair.ids, (Ids{2, 5, 6, 3, 7, 3}));
  EXPECT_EQ(pair.token_type_ids, (Ids{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(pair.attention_mask, (Ids{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(tok.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(tok.num_special_tokens_to_add(true), 3u);
  EXPECT_EQ(tok.cls_id(), 2);
  EXPECT_EQ(tok.mask_id(), 4);
  EXPECT_FALSE(tok.eos_id().has_value());
  EXPECT_EQ(small_bert(false).tokenize("Hello hello"), (std::vector<std::string>{"Hello", "hello"}));
}

TEST(TokenizerApi, PaddingLongestAndMaxLengthBothSides) {
  const auto tok = small_bert();
  models::EncodeOptions options;
  options.padding = models::Padding::kLongest;
  auto batch = tok.encode_batch({"the dog sat", "dog"}, options);
  EXPECT_EQ(batch[1].ids, (Ids{2, 6, 3, 0, 0}));
  EXPECT_EQ(batch[1].attention_mask, (Ids{1, 1, 1, 0, 0}));
  EXPECT_EQ(batch[1].tokens.back(), "[PAD]");
  EXPECT_EQ(batch[0].attention_mask, (Ids{1, 1, 1, 1, 1}));
  options.padding = models::Padding::kMaxLength;
  options.max_length = 6;
  options.padding_side = models::Side::kLeft;
  batch = tok.encode_batch({"dog"}, options);
  EXPECT_EQ(batch[0].ids, (Ids{0, 0, 0, 2, 6, 3}));
  EXPECT_EQ(batch[0].attention_mask, (Ids{0, 0, 0, 1, 1, 1}));
  options.max_length.reset();  // falls back to model_max_length = 16
  EXPECT_EQ(tok.encode_batch({"dog"}, options)[0].size(), 16u);
}

TEST(TokenizerApi, TruncationSingleAndLongestFirst) {
  const auto tok = small_bert();
  models::EncodeOptions options;
  options.truncation = true;
  options.max_length = 4;
  EXPECT_EQ(tok.encode_batch({"the dog sat ."}, options)[0].ids, (Ids{2, 5, 6, 3}));
  options.truncation_side = models::Side::kLeft;
  EXPECT_EQ(tok.encode_batch({"the dog sat ."}, options)[0].ids, (Ids{2, 7, 10, 3}));
  // Pair: 4 + 1 tokens + 3 specials into 6 -> remove 2, both from the longer first sequence.
  options.truncation_side = models::Side::kRight;
  options.max_length = 6;
  auto pair = tok.encode_pair_batch({"the dog sat ."}, {"dog"}, options)[0];
  EXPECT_EQ(pair.ids, (Ids{2, 5, 6, 3, 6, 3}));
  EXPECT_EQ(pair.token_type_ids, (Ids{0, 0, 0, 0, 1, 1}));
  // Equal lengths: the tie goes to the second sequence first.
  pair = tok.encode_pair_batch({"the dog"}, {"sat ."}, options)[0];
  EXPECT_EQ(pair.ids, (Ids{2, 5, 6, 3, 7, 3}));
  options.max_length = 2;  // HF keeps at least one token of a single sequence
  EXPECT_THROW(tok.encode_batch({"the dog"}, options), engine::ValueError);
}

TEST(TokenizerApi, DecodeSkipsSpecialTokensAndCleansUp) {
  const auto tok = small_bert();
  const Ids ids = tok.encode("the dog sat .").ids;
  EXPECT_EQ(tok.decode(ids), "[CLS] the dog sat. [SEP]");
  EXPECT_EQ(tok.decode(ids, true), "the dog sat.");
  EXPECT_EQ(tok.decode(ids, true, false), "the dog sat .");
  EXPECT_EQ(tok.decode(tok.encode("running").ids, true), "running");
  EXPECT_THROW(tok.id_to_token(99), engine::IndexError);
}

TEST(TokenizerApi, Gpt2MergesSpecialTokenAndNoPadToken) {
  const auto tok = small_gpt2();
  EXPECT_EQ(tok.tokenize("lower low"), (std::vector<std::string>{"low", "er", "\u0120low"}));
  EXPECT_EQ(tok.tokenize("a<|endoftext|>b"), (std::vector<std::string>{"a", "<|endoftext|>", "b"}));
  EXPECT_EQ(tok.num_special_tokens_to_add(false), 0u);
  const Ids ids = tok.encode("lower caf\u00e9 <|endoftext|>").ids;
  EXPECT_EQ(tok.decode(ids), "lower caf\u00e9 <|endoftext|>");
  EXPECT_EQ(tok.decode(ids, true), "lower caf\u00e9 ");
  // Half of a UTF-8 character decodes as U+FFFD (errors="replace").
  const Ids half = {*tok.token_to_id(models::byte_to_unicode()[0xC3])};
  EXPECT_EQ(tok.decode(half), "\ufffd");
  models::EncodeOptions options;
  options.padding = models::Padding::kLongest;
  EXPECT_THROW(tok.encode_batch({"low", "lower"}, options), engine::ValueError);
}

TEST(TokenizerApi, T5FromInMemoryUnigram) {
  const auto tok = small_t5();
  EXPECT_EQ(tok.vocab_size(), 16);
  EXPECT_EQ(tok.token_to_id("<extra_id_0>"), 15);
  EXPECT_EQ(tok.token_to_id("<extra_id_1>"), 14);
  EXPECT_EQ(tok.tokenize("the  dogs"), (std::vector<std::string>{"\u2581the", "\u2581dog", "s"}));
  EXPECT_EQ(tok.encode("the dog").ids, (Ids{4, 5, 1}));
  EXPECT_EQ(tok.encode("the dog </s>").ids, (Ids{4, 5, 1}));  // no second </s>
  EXPECT_EQ(tok.encode("the <extra_id_0> dog").ids, (Ids{4, 15, 5, 1}));
  EXPECT_EQ(tok.encode("the dog!").ids, (Ids{4, 5, 2, 1}));  // '!' is unknown
  EXPECT_EQ(tok.decode(tok.encode("the dog").ids, true), "the dog");
  EXPECT_EQ(tok.encode_pair("the", "dog").ids, (Ids{4, 1, 5, 1}));
}

template <typename T>
void expect_round_trip(const T& tok, const std::string& name, const std::vector<std::string>& files) {
  const fs::path dir = temp_dir(name);
  tok.save(dir);
  for (const std::string& f : files) EXPECT_TRUE(fs::exists(dir / f)) << f;
  const auto loaded = models::load_tokenizer(dir);
  EXPECT_EQ(loaded->kind(), tok.kind());
  EXPECT_EQ(loaded->vocab_size(), tok.vocab_size());
  EXPECT_EQ(loaded->special_tokens().all(), tok.special_tokens().all());
  EXPECT_EQ(loaded->model_max_length(), tok.model_max_length());
  for (const std::string text : {"The dog sat.", "lower Hello running cafe", "the <extra_id_0> dogs", ""}) {
    EXPECT_EQ(loaded->encode(text).ids, tok.encode(text).ids) << text;
    EXPECT_EQ(loaded->encode(text).tokens, tok.encode(text).tokens) << text;
  }
  fs::remove_all(dir);
}

TEST(TokenizerApi, SaveLoadRoundTrips) {
  expect_round_trip(small_bert(), "bert", {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"});
  expect_round_trip(small_bert(false), "bert_cased", {"vocab.txt"});
  expect_round_trip(small_gpt2(), "gpt2", {"vocab.json", "merges.txt", "tokenizer_config.json"});
  expect_round_trip(small_t5(), "t5", {"spiece.model", "special_tokens_map.json"});
  const fs::path dir = temp_dir("gpt2_merges");
  small_gpt2().save(dir);
  EXPECT_EQ(dynamic_cast<models::BpeTokenizer&>(*models::load_tokenizer(dir)).merges(),
            small_gpt2().merges());
  fs::remove_all(dir);
}

TEST(TokenizerApi, LoadErrorsNameThePath) {
  const fs::path missing = temp_dir("missing");
  try {
    models::load_tokenizer(missing);
    FAIL() << "no error for a missing folder";
  } catch (const engine::IOError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  const fs::path empty = temp_dir("empty");
  fs::create_directories(empty);
  EXPECT_THROW(models::load_tokenizer(empty), engine::IOError);
  std::ofstream(empty / "tokenizer.json") << "{ not json";
  try {
    models::load_tokenizer(empty);
    FAIL() << "no error for malformed JSON";
  } catch (const engine::IOError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
  fs::remove_all(empty);
}

TEST(TokenizerApi, EncodingReport) {
  const auto tok = small_bert();
  const auto single = models::encoding_report(tok, "The dog");
  EXPECT_EQ(single["tokens"], nlohmann::json({"[CLS]", "the", "dog", "[SEP]"}));
  EXPECT_EQ(single["ids_no_special"], nlohmann::json({5, 6}));
  EXPECT_EQ(single["decoded"], "the dog");
  EXPECT_FALSE(single.contains("token_type_ids"));
  const auto pair = models::encoding_report(tok, "the", "dog");
  EXPECT_EQ(pair["token_type_ids"], nlohmann::json({0, 0, 0, 1, 1}));
  EXPECT_EQ(pair["text_pair"], "dog");
}

}  // namespace
