// Tests of app/corpus: the generated data-to-text task (deterministic, split by record, varied
// references that all name their venue), the pretraining corpus (deterministic, shares the
// task's vocabulary, holds no test reference and no venue name), and plain-text corpus reading.
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "app/corpus/grammar.h"
#include "app/corpus/restaurants.h"
#include "app/corpus/text_corpus.h"
#include "app/data/data_to_text.h"
#include "engine/core/error.h"

using namespace app::corpus;
namespace fs = std::filesystem;

namespace {

DataToTextOptions small_task(uint64_t seed) {
  DataToTextOptions o;
  o.records = 300, o.seed = seed;
  return o;
}

std::string name_of(const app::data::DataToTextExample& ex) {
  for (const auto& [k, v] : app::data::parse_e2e_mr(ex.source))
    if (k == "name") return v;
  return "";
}

fs::path temp_file(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("peft_test_corpus_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

}  // namespace

TEST(Corpus, DataToTextIsDeterministicAndSplitByRecord) {
  const DataToTextSplits a = generate_data_to_text(small_task(1)), b = generate_data_to_text(small_task(1));
  const DataToTextSplits c = generate_data_to_text(small_task(2));
  EXPECT_EQ(a.train.size(), 240u);
  EXPECT_EQ(a.validation.size(), 30u);
  EXPECT_EQ(a.test.size(), 30u);
  for (size_t i = 0; i < a.test.size(); ++i) {
    EXPECT_EQ(a.test[i].source, b.test[i].source);
    EXPECT_EQ(a.test[i].references, b.test[i].references);
  }
  EXPECT_NE(a.test[0].source, c.test[0].source);
  std::set<std::string> train_mrs, train_refs;
  for (const auto& ex : a.train) {
    train_mrs.insert(ex.source);
    train_refs.insert(ex.references.begin(), ex.references.end());
  }
  for (const auto* split : {&a.validation, &a.test})
    for (const auto& ex : *split) EXPECT_FALSE(train_mrs.count(ex.source)) << ex.source;
}

TEST(Corpus, ReferencesAreVariedAndNameTheirVenue) {
  const DataToTextSplits s = generate_data_to_text(small_task(3));
  std::set<std::string> openings;
  for (const auto& ex : s.train) {
    ASSERT_GE(ex.references.size(), 3u);
    ASSERT_LE(ex.references.size(), 6u);
    EXPECT_EQ(std::set<std::string>(ex.references.begin(), ex.references.end()).size(), ex.references.size());
    for (const std::string& ref : ex.references) {
      EXPECT_NE(ref.find(name_of(ex)), std::string::npos) << ref;
      EXPECT_TRUE(has_capitalised_pair(ref)) << ref;
      openings.insert(ref.substr(0, ref.find(' ')));
    }
    EXPECT_FALSE(app::data::linearize_e2e(ex.source).empty());
  }
  EXPECT_GE(openings.size(), 10u);  // several templates and venue names open the references
}

TEST(Corpus, PretrainingCorpusIsDeterministicAndDisjointFromTheTask) {
  PretrainCorpusOptions o;
  o.documents = 1500;
  const auto docs = generate_documents(o);
  EXPECT_EQ(docs, generate_documents(o));
  o.seed = 1;
  EXPECT_NE(docs, generate_documents(o));
  const std::string text = join_documents(docs);
  EXPECT_FALSE(has_capitalised_pair(text));
  // Vocabulary shared with the task ...
  for (const char* word : {"Italian", "riverside", "city centre", "coffee shop", "cheap", "lantern", "golden", "children"})
    EXPECT_NE(text.find(word), std::string::npos) << word;
  // ... but none of its sentences: no test reference and no venue name occurs in it.
  const DataToTextSplits task = generate_data_to_text(small_task(0));
  for (const auto& ex : task.test) {
    EXPECT_EQ(text.find(name_of(ex)), std::string::npos) << name_of(ex);
    for (const std::string& ref : ex.references) EXPECT_EQ(text.find(ref), std::string::npos) << ref;
  }
}

TEST(Corpus, CapitalisedPairDetector) {
  EXPECT_TRUE(has_capitalised_pair("we met at Golden Lantern today"));
  EXPECT_TRUE(has_capitalised_pair("Golden Lantern"));
  EXPECT_FALSE(has_capitalised_pair("Anna. The park was quiet. Tom went home."));
  EXPECT_FALSE(has_capitalised_pair("Anna likes Italian food"));
  EXPECT_FALSE(has_capitalised_pair("McDonald is"));
}

TEST(Corpus, E2eCsvRoundTrip) {
  const DataToTextSplits s = generate_data_to_text(small_task(4));
  const fs::path p = fs::temp_directory_path() / "peft_test_corpus_e2e.csv";
  write_e2e_csv(s.test, p.string());
  const auto back = app::data::read_e2e(p);
  ASSERT_EQ(back.size(), s.test.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].source, s.test[i].source);
    EXPECT_EQ(back[i].references, s.test[i].references);
  }
  fs::remove(p);
}

TEST(Corpus, TextCorpusDocumentsAndErrorsNameTheFile) {
  const fs::path p = temp_file("ok.txt", "First:\nline one\n\n\nSecond:\nline two\r\n");
  EXPECT_EQ(read_documents(p), (std::vector<std::string>{"First:\nline one", "Second:\nline two"}));
  EXPECT_EQ(read_documents(p, DocumentSplit::lines).size(), 4u);
  const fs::path blank = temp_file("blank.txt", " \n\n\t\n");
  for (const fs::path& bad : {blank, fs::temp_directory_path() / "peft_test_corpus_missing.txt"}) {
    try {
      read_documents(bad);
      ADD_FAILURE() << "no IOError for " << bad;
    } catch (const engine::IOError& e) {
      EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
    }
  }
  fs::remove(p);
  fs::remove(blank);
}
