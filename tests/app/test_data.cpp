// Tests of app/data: every failure mode on small files in a temp dir, CSV/TSV/JSONL mapping,
// E2E grouping and linearisation, WebNLG XML/JSON, seeded shuffles and splits, and the real
// datasets in ../shared/data (skipped when absent), checked against their README's counts.
#include <algorithm>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "app/data/data_to_text.h"
#include "app/data/examples.h"
#include "app/data/shuffle.h"
#include "app/data/table.h"
#include "app/data/text_file.h"
#include "engine/core/error.h"
#include "support/test_support.h"

using namespace app::data;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test for the small files the tests write.
class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("peft_test_data_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

  fs::path dir_;
};

// Runs f, expects engine::IOError whose message contains every fragment.
template <typename F>
void expect_io_error(F f, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "no IOError thrown";
  } catch (const engine::IOError& e) {
    const std::string msg = e.what();
    for (const auto& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

fs::path shared_data(const std::string& rel) { return test_support::shared_path("data/" + rel); }

}  // namespace

TEST_F(DataFiles, CsvQuotingEmbeddedNewlinesCommasQuotes) {
  const auto p = write("a.csv",
                       "text,label\r\n"
                       "\"hello, world\",1\r\n"
                       "\"she said \"\"hi\"\"\",0\r\n"
                       "\"two\nlines\",1\n"
                       "\n"
                       "plain,0");
  const Table t = read_csv(p);
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.rows[0][0], "hello, world");
  EXPECT_EQ(t.rows[1][0], "she said \"hi\"");
  EXPECT_EQ(t.rows[2][0], "two\nlines");
  EXPECT_EQ(t.rows[3][0], "plain");
  EXPECT_EQ(t.row_lines, (std::vector<size_t>{2, 3, 4, 7}));  // a quoted newline spans a line
}

TEST_F(DataFiles, ColumnMappingCsvTsvJsonl) {
  const ColumnMap map{"premise", "hypothesis", "label", "", 3};
  const auto csv = read_csv_examples(write("p.csv", "id,hypothesis,premise,label\n7,b,a,2\n"), map);
  ASSERT_EQ(csv.size(), 1u);
  EXPECT_EQ(csv[0].text, "a");
  EXPECT_EQ(csv[0].text_pair, "b");
  EXPECT_EQ(csv[0].label, 2);
  // TSV is literal: quotes are text.
  const auto tsv = read_tsv_examples(write("p.tsv", "premise\thypothesis\tlabel\n\"a\"\tb\t0\n"), map);
  EXPECT_EQ(tsv[0].text, "\"a\"");
  const auto jl = read_jsonl_examples(
      write("p.jsonl", "{\"premise\": \"x\", \"hypothesis\": \"y\", \"label\": 1}\n\n"
                       "{\"premise\": \"z\", \"hypothesis\": \"w\", \"label\": \"0\"}\n"),
      map);
  ASSERT_EQ(jl.size(), 2u);
  EXPECT_EQ(jl[1].text, "z");
  EXPECT_EQ(jl[1].label, 0);
  const auto gen = read_jsonl_examples(write("g.jsonl", "{\"src\": \"a\", \"tgt\": \"b\"}\n"),
                                       ColumnMap{"src", "", "", "tgt", 0});
  EXPECT_EQ(gen[0].target, "b");
  EXPECT_EQ(gen[0].label, -1);
}

TEST_F(DataFiles, MissingFileAndEmptyFile) {
  expect_io_error([&] { read_csv(dir_ / "nope.csv"); }, {"nope.csv", "cannot open"});
  expect_io_error([&] { read_csv(write("e.csv", "")); }, {"e.csv", "empty file"});
  expect_io_error([&] { read_jsonl_examples(write("e.jsonl", "\n\n"), {"text"}); },
                  {"e.jsonl", "empty file"});
}

TEST_F(DataFiles, InvalidUtf8NamesLineAndByte) {
  const auto p = write("bad.tsv", "sentence\tlabel\nok\t1\nbad \xC3\x28 byte\t0\n");
  expect_io_error([&] { read_sst2(p); }, {"bad.tsv:3", "wrong encoding", "byte 24"});
  EXPECT_EQ(find_invalid_utf8("\xE2\x82\xAC ok"), std::string::npos);  // "€"
  EXPECT_EQ(find_invalid_utf8("a\xC0\xAF"), 1u);                       // overlong '/'
  EXPECT_EQ(find_invalid_utf8("ab\xED\xA0\x80"), 2u);                  // a UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("abc\xF0\x9F\x98"), 3u);                 // truncated
}

TEST_F(DataFiles, MalformedLines) {
  expect_io_error([&] { read_csv(write("q.csv", "a,b\n1,2\n\"open,3\n4,5\n")); },
                  {"q.csv:3", "unterminated quoted field"});
  expect_io_error([&] { read_csv(write("n.csv", "a,b\n1,2\n1,2,3\n")); },
                  {"n.csv:3", "expected 2 fields, found 3"});
  expect_io_error([&] { read_csv(write("s.csv", "a,b\nx\"y,2\n")); },
                  {"s.csv:2", "quote inside an unquoted field"});
  expect_io_error([&] { read_csv(write("c.csv", "a,b\n\"x\"y,2\n")); },
                  {"c.csv:2", "after a closing quote"});
  expect_io_error([&] { read_tsv(write("f.tsv", "sentence\tlabel\nno tab here\n")); },
                  {"f.tsv:2", "expected 2 fields, found 1"});
  expect_io_error([&] { read_jsonl_examples(write("j.jsonl", "{\"text\": \"a\"}\n{oops\n"), {"text"}); },
                  {"j.jsonl:2", "invalid JSON"});
}

TEST_F(DataFiles, MissingColumnAndBadLabels) {
  expect_io_error([&] { read_sst2(write("m.tsv", "text\tlabel\na\t1\n")); },
                  {"m.tsv", "missing column 'sentence'", "text, label"});
  expect_io_error([&] { read_sst2(write("r.tsv", "sentence\tlabel\na\t1\nb\t2\n")); },
                  {"r.tsv:3", "label 2 out of range [0, 2)"});
  expect_io_error([&] { read_sst2(write("i.tsv", "sentence\tlabel\na\tpositive\n")); },
                  {"i.tsv:2", "label 'positive' is not an integer"});
  expect_io_error([&] { read_sst2(write("x.tsv", "sentence\tlabel\na\t1.0\n")); },
                  {"x.tsv:2", "not an integer"});
  expect_io_error([&] { read_jsonl_examples(write("k.jsonl", "{\"t\": \"a\"}\n"), {"text"}); },
                  {"k.jsonl:1", "missing key 'text'"});
}

TEST_F(DataFiles, E2eGroupsReferencesInFirstAppearanceOrder) {
  const auto p = write("e2e.csv",
                       "mr,ref\n"
                       "\"name[B], food[Thai]\",b one\n"
                       "\"name[A], eatType[pub], priceRange[cheap]\",a one\n"
                       "\"name[B], food[Thai]\",\"b two, with comma\"\n");
  const auto ex = read_e2e(p);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].source, "name[B], food[Thai]");
  EXPECT_EQ(ex[0].references, (std::vector<std::string>{"b one", "b two, with comma"}));
  EXPECT_EQ(linearize_e2e(ex[1].source), "name : A | Type : pub | price : cheap");
  EXPECT_EQ(linearize_e2e("name[X], familyFriendly[yes], customer rating[5 out of 5]"),
            "name : X | family friendly : yes | customer rating : 5 out of 5");
  EXPECT_THROW(parse_e2e_mr("name[X"), engine::ValueError);
  expect_io_error([&] { read_e2e(write("bad.csv", "meaning,ref\nx,y\n")); },
                  {"bad.csv", "missing column 'mr'"});
}

TEST_F(DataFiles, WebnlgXmlAndLinearisation) {
  const auto p = write("w.xml",
                       "<?xml version='1.0' encoding='UTF-8'?>\n<benchmark>\n  <entries>\n"
                       "    <entry category=\"Airport\" eid=\"Id1\" size=\"2\">\n"
                       "      <originaltripleset><otriple>x | y | z</otriple></originaltripleset>\n"
                       "      <modifiedtripleset>\n"
                       "        <mtriple>Abilene_Regional_Airport | cityServed | Abilene,_Texas</mtriple>\n"
                       "        <mtriple>A &amp; B | runwayLength | &quot;3.0&quot;</mtriple>\n"
                       "      </modifiedtripleset>\n"
                       "      <lex comment=\"good\" lid=\"Id1\">Abilene &lt;TX&gt; is served.</lex>\n"
                       "      <lex comment=\"good\" lid=\"Id2\">Second.</lex>\n"
                       "    </entry>\n  </entries>\n</benchmark>\n");
  const auto ex = read_webnlg_xml(p);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].category, "Airport");
  ASSERT_EQ(ex[0].triples.size(), 2u);  // the modified set, not the original one
  EXPECT_EQ(ex[0].triples[1].subject, "A & B");
  EXPECT_EQ(ex[0].references, (std::vector<std::string>{"Abilene <TX> is served.", "Second."}));
  EXPECT_EQ(linearize_triples(ex[0].triples),
            "Abilene Regional Airport | cityServed | Abilene, Texas && A & B | runwayLength | \"3.0\"");
  expect_io_error([&] { read_webnlg_xml(write("t.xml", "<benchmark><entry category=\"A\">\n"
                                                         "<mtriple>a | b</mtriple></entry>")); },
                  {"t.xml:2", "malformed triple"});
  expect_io_error([&] { read_webnlg_xml(write("u.xml", "<benchmark>\n<entry>\n<lex>never closed")); },
                  {"u.xml:3", "missing </lex>"});
}

TEST(Shuffle, SeededAndMachineIndependent) {
  // SplitMix64's published first outputs for seed 0 (the reference C code's state += golden).
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(rng.next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(shuffled_indices(8, 42), shuffled_indices(8, 42));
  EXPECT_NE(shuffled_indices(8, 42), shuffled_indices(8, 43));
  auto perm = shuffled_indices(100, 7);
  std::sort(perm.begin(), perm.end());
  for (size_t i = 0; i < perm.size(); ++i) ASSERT_EQ(perm[i], i);
  // Every position is reachable: over many seeds each element lands first at least once.
  std::set<size_t> firsts;
  for (uint64_t s = 0; s < 200; ++s) firsts.insert(shuffled_indices(5, s)[0]);
  EXPECT_EQ(firsts.size(), 5u);
}

TEST(Shuffle, SplitKeepsReferencesTogether) {
  std::vector<DataToTextExample> ex;
  for (int i = 0; i < 10; ++i)
    ex.push_back({"mr" + std::to_string(i), {}, {"r" + std::to_string(i) + "a", "r" + std::to_string(i) + "b"}, ""});
  const auto [train, held] = split_train_heldout(ex, 0.3, 1);
  EXPECT_EQ(train.size(), 7u);
  EXPECT_EQ(held.size(), 3u);
  std::set<std::string> seen;
  for (const auto* part : {&train, &held})
    for (const auto& e : *part) {
      EXPECT_TRUE(seen.insert(e.source).second);
      EXPECT_EQ(e.references[0], "r" + e.source.substr(2) + "a");
    }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_THROW(heldout_count(10, 1.5), engine::ValueError);
}

TEST(RealData, E2eCounts) {
  SKIP_WITHOUT_SHARED("data/e2e/trainset.csv");
  EXPECT_EQ(read_csv(shared_data("e2e/trainset.csv")).rows.size(), 42061u);
  EXPECT_EQ(read_csv(shared_data("e2e/devset.csv")).rows.size(), 4672u);
  const auto test = read_e2e(shared_data("e2e/testset_w_refs.csv"));
  EXPECT_EQ(test.size(), 630u);
  size_t refs = 0;
  for (const auto& e : test) refs += e.references.size();
  EXPECT_EQ(refs, 4693u);
  EXPECT_EQ(test[0].source, "name[Blue Spice], eatType[coffee shop], area[city centre]");
  EXPECT_EQ(test[0].references.size(), 2u);
  const auto blind = read_e2e(shared_data("e2e/testset.csv"));
  EXPECT_EQ(blind.size(), 630u);
  EXPECT_TRUE(blind[0].references.empty());
}

TEST(RealData, E2eLinearisationMatchesLoraFormat) {
  SKIP_WITHOUT_SHARED("data/e2e-lora-format/test.txt");
  // The LoRA files hold one line per reference, "<linearised MR>||<ref>", with values also
  // word-tokenised ("£20-25" -> "£ 20 - 25"); compare with spaces removed.
  const auto rows = read_csv(shared_data("e2e/testset_w_refs.csv"));
  const auto lora = read_lines(shared_data("e2e-lora-format/test.txt"));
  ASSERT_EQ(rows.rows.size(), lora.size());
  auto squeeze = [](std::string s) {
    s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
    return s;
  };
  for (size_t i = 0; i < lora.size(); ++i)
    ASSERT_EQ(squeeze(linearize_e2e(rows.rows[i][0])), squeeze(lora[i].substr(0, lora[i].find("||"))))
        << "row " << i;
}

TEST(RealData, Sst2Sizes) {
  SKIP_WITHOUT_SHARED("data/sst2/train.tsv");
  EXPECT_EQ(read_sst2(shared_data("sst2/train.tsv")).size(), 60614u);
  EXPECT_EQ(read_sst2(shared_data("sst2/dev.tsv")).size(), 6735u);
  const auto test = read_sst2(shared_data("sst2/test.tsv"));
  EXPECT_EQ(test.size(), 872u);
  EXPECT_EQ(test[0].text, "it 's a charming and often affecting journey . ");
  EXPECT_EQ(test[0].label, 1);
}

TEST(RealData, WebnlgCounts) {
  SKIP_WITHOUT_SHARED("data/webnlg2017/dev.json");
  auto count_refs = [](const std::vector<DataToTextExample>& ex) {
    size_t n = 0;
    for (const auto& e : ex) n += e.references.size();
    return n;
  };
  const auto train = read_webnlg_xml(shared_data("webnlg2017/train"));
  EXPECT_EQ(train.size(), 6940u);
  EXPECT_EQ(count_refs(train), 18102u);
  const auto dev = read_webnlg_xml(shared_data("webnlg2017/dev"));
  EXPECT_EQ(dev.size(), 872u);
  EXPECT_EQ(count_refs(dev), 2268u);
  const auto test = read_webnlg_xml(shared_data("webnlg2017/test/testdata_with_lex.xml"));
  EXPECT_EQ(test.size(), 1862u);
  EXPECT_EQ(count_refs(test), 4928u);
  EXPECT_EQ(read_webnlg_xml(shared_data("webnlg2017/test/testdata_unseen_with_lex.xml")).size(), 891u);
  // The JSON layout holds the same dev entries as the XML.
  const auto json = read_webnlg_json(shared_data("webnlg2017/dev.json"));
  ASSERT_EQ(json.size(), dev.size());
  auto keys = [](const std::vector<DataToTextExample>& ex) {
    std::vector<std::string> k;
    for (const auto& e : ex) {
      std::string s = e.category + "#" + linearize_triples(e.triples);
      for (const auto& r : e.references) s += "#" + r;
      k.push_back(s);
    }
    std::sort(k.begin(), k.end());
    return k;
  };
  EXPECT_EQ(keys(json), keys(dev));
}

TEST(RealData, PlainCorpus) {
  SKIP_WITHOUT_SHARED("data/tinyshakespeare/input.txt");
  const std::string text = read_corpus(shared_data("tinyshakespeare/input.txt"));
  EXPECT_EQ(text.size(), 1115394u);
  EXPECT_EQ(text.rfind("First Citizen:", 0), 0u);
}
