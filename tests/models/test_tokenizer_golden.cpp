// Golden tests: the three tokenizers against HF's slow tokenizers on the reference texts of
// ../shared/fixtures/tokenizers and on every fixture case's tokenizer_tests, from the slow
// files, from tokenizer.json alone and from a real hub folder. Mismatches print text,
// expected and got.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "models/tokenizers/tokenizer.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::string show(const json& v) { return v.dump(-1, ' ', true); }  // ASCII: control chars visible

// Compares one field; appends a readable line on mismatch.
void compare(std::ostringstream& report, int& bad, const std::string& text, const char* field,
             const json& expected, const json& got) {
  if (expected == got) return;
  ++bad;
  report << "  text " << show(text) << " [" << field << "]\n    expected " << show(expected)
         << "\n    got      " << show(got) << "\n";
}

// Checks every entry of a reference list ({text, tokens, ids, ids_no_special, decoded,
// decoded_no_cleanup?}); returns the number of mismatching fields.
int check_entries(const models::Tokenizer& tok, const json& entries, std::ostringstream& report) {
  int bad = 0;
  for (const json& e : entries) {
    const std::string text = e["text"];
    const models::Encoding with = tok.encode(text);
    const models::Encoding without = tok.encode(text, /*add_special_tokens=*/false);
    compare(report, bad, text, "tokens", e["tokens"], tok.tokenize(text));
    compare(report, bad, text, "ids", e["ids"], with.ids);
    compare(report, bad, text, "ids_no_special", e["ids_no_special"], without.ids);
    compare(report, bad, text, "decoded", e["decoded"], tok.decode(with.ids, true, true));
    if (e.contains("decoded_no_cleanup"))
      compare(report, bad, text, "decoded_no_cleanup", e["decoded_no_cleanup"],
              tok.decode(with.ids, true, false));
  }
  return bad;
}

int check_pairs(const models::Tokenizer& tok, const json& pairs, std::ostringstream& report) {
  int bad = 0;
  for (const json& p : pairs) {
    const models::Encoding e =
        tok.encode_pair(p["text"].get<std::string>(), p["text_pair"].get<std::string>());
    const std::string label = p["text"].get<std::string>() + " | " + p["text_pair"].get<std::string>();
    compare(report, bad, label, "ids", p["ids"], e.ids);
    compare(report, bad, label, "token_type_ids", p["token_type_ids"], e.token_type_ids);
    if (p.contains("tokens")) compare(report, bad, label, "tokens", p["tokens"], e.tokens);
    if (p.contains("attention_mask"))
      compare(report, bad, label, "attention_mask", p["attention_mask"], e.attention_mask);
    if (p.contains("decoded"))
      compare(report, bad, label, "decoded", p["decoded"], tok.decode(e.ids, true, true));
  }
  return bad;
}

void expect_golden(const fs::path& tokenizer_dir, const std::string& reference) {
  const json ref = read_json(test_support::shared_path("fixtures/tokenizers/" + reference));
  const auto tok = models::load_tokenizer(tokenizer_dir);
  std::ostringstream report;
  int bad = check_entries(*tok, ref["entries"], report);
  if (ref.contains("pairs")) bad += check_pairs(*tok, ref["pairs"], report);
  EXPECT_EQ(bad, 0) << reference << " with " << tokenizer_dir << ": " << bad << " mismatches\n"
                    << report.str();
  EXPECT_GT(ref["entries"].size(), 60u);
}

// A fresh temporary folder holding only the given files of `from`.
fs::path folder_with(const fs::path& from, const std::vector<std::string>& files, const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("peft_tok_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const std::string& f : files) fs::copy_file(from / f, dir / f);
  return dir;
}

TEST(TokenizerGolden, Gpt2FromVocabAndMerges) {
  SKIP_WITHOUT_SHARED("fixtures/tokenizers/gpt2.json");
  expect_golden(test_support::shared_path("tokenizers/gpt2-tokenizer"), "gpt2.json");
}

TEST(TokenizerGolden, BertUncasedFromVocabTxt) {
  SKIP_WITHOUT_SHARED("fixtures/tokenizers/bert_uncased.json");
  expect_golden(test_support::shared_path("tokenizers/bert-uncased-tokenizer"), "bert_uncased.json");
}

TEST(TokenizerGolden, T5FromSpieceModel) {
  SKIP_WITHOUT_SHARED("fixtures/tokenizers/t5.json");
  expect_golden(test_support::shared_path("tokenizers/t5-small-tokenizer"), "t5.json");
}

TEST(TokenizerGolden, Gpt2FromTokenizerJsonOnly) {
  SKIP_WITHOUT_SHARED("fixtures/tokenizers/gpt2.json");
  const fs::path dir =
      folder_with(test_support::shared_path("tokenizers/gpt2-tokenizer"), {"tokenizer.json"}, "gpt2");
  expect_golden(dir, "gpt2.json");
  fs::remove_all(dir);
}

TEST(TokenizerGolden, BertFromTokenizerJsonOnly) {
  SKIP_WITHOUT_SHARED("fixtures/tokenizers/bert_uncased.json");
  const fs::path dir =
      folder_with(test_support::shared_path("tokenizers/bert-uncased-tokenizer"), {"tokenizer.json"}, "bert");
  expect_golden(dir, "bert_uncased.json");
  fs::remove_all(dir);
}

TEST(TokenizerGolden, T5FromTokenizerJsonWithoutSpiece) {
  SKIP_WITHOUT_SHARED("fixtures/tokenizers/t5.json");
  const fs::path dir =
      folder_with(test_support::shared_path("tokenizers/t5-small-tokenizer"), {"tokenizer.json"}, "t5");
  expect_golden(dir, "t5.json");
  const auto tok = models::load_tokenizer(dir);
  EXPECT_EQ(tok->vocab_size(), 32100);
  EXPECT_EQ(tok->token_to_id("<extra_id_0>"), 32099);
  fs::remove_all(dir);
}

// The real hub folder: vocab.json + merges.txt + tokenizer.json + configs as served.
TEST(TokenizerGolden, TinyGpt2RandomHubFolder) {
  SKIP_WITHOUT_SHARED("models/tiny-gpt2-random");
  SKIP_WITHOUT_SHARED("fixtures/tokenizers/gpt2.json");
  const auto tok = models::load_tokenizer(test_support::shared_path("models/tiny-gpt2-random"));
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->model_max_length(), 1024u);
  EXPECT_EQ(tok->eos_id(), 50256);
  EXPECT_EQ(tok->bos_id(), 50256);
  EXPECT_FALSE(tok->pad_id().has_value());
  expect_golden(test_support::shared_path("models/tiny-gpt2-random"), "gpt2.json");
}

// Every fixture case's own tokenizer (tiny vocabularies) and its padded batch.
class FixtureTokenizer : public testing::TestWithParam<std::string> {};

TEST_P(FixtureTokenizer, MatchesTokenizerTestsAndBatch) {
  const std::string name = GetParam();
  SKIP_WITHOUT_SHARED("fixtures/" + name + "/inputs.json");
  const fs::path dir = test_support::shared_path("fixtures/" + name);
  const json inputs = read_json(dir / "inputs.json");
  const auto tok = models::load_tokenizer(dir / "model");
  std::ostringstream report;
  int bad = check_entries(*tok, inputs["tokenizer_tests"], report);
  if (inputs.contains("tokenizer_pair_test") && !inputs["tokenizer_pair_test"].is_null())
    bad += check_pairs(*tok, json::array({inputs["tokenizer_pair_test"]}), report);

  // The model inputs: the texts (and pairs) encoded as one right-padded batch.
  models::EncodeOptions options;
  options.padding = models::Padding::kLongest;
  const std::vector<std::string> texts = inputs["texts"];
  const std::vector<models::Encoding> batch =
      inputs.contains("text_pairs") ? tok->encode_pair_batch(texts, inputs["text_pairs"], options)
                                    : tok->encode_batch(texts, options);
  json ids = json::array(), mask = json::array(), types = json::array();
  for (const auto& e : batch)
    ids.push_back(e.ids), mask.push_back(e.attention_mask), types.push_back(e.token_type_ids);
  // tokenized_input_ids: before the MLM case masks tokens into input_ids.
  const char* ids_key = inputs.contains("tokenized_input_ids") ? "tokenized_input_ids" : "input_ids";
  compare(report, bad, "<batch>", ids_key, inputs[ids_key], ids);
  compare(report, bad, "<batch>", "attention_mask", inputs["attention_mask"], mask);
  if (inputs.contains("token_type_ids"))
    compare(report, bad, "<batch>", "token_type_ids", inputs["token_type_ids"], types);
  EXPECT_EQ(bad, 0) << name << ": " << bad << " mismatches\n" << report.str();
}

INSTANTIATE_TEST_SUITE_P(Cases, FixtureTokenizer,
                         testing::Values("bert", "bert_mlm", "bert_seqcls", "gpt2", "t5"));

}  // namespace
