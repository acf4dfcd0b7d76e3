// Tests of app/metrics: sacreBLEU's own unit-test values, hand-computed tiny cases, and vectors
// from tests/app/data/gen_metric_vectors.py (Python transcriptions of sacreBLEU, e2e-metrics'
// pymteval and coco-caption, self-checked against sacreBLEU's published test values).
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/metrics/bleu.h"
#include "app/metrics/classification.h"
#include "app/metrics/coco.h"
#include "app/metrics/mteval.h"
#include "app/metrics/text.h"
#include "engine/core/error.h"

using namespace app::metrics;

namespace {

nlohmann::json vectors() {
  std::ifstream f(std::string(PEFT_SOURCE_DIR) + "/tests/app/data/metric_vectors.json");
  return nlohmann::json::parse(f);
}

std::vector<std::vector<std::string>> refs_of(const nlohmann::json& j) {
  return j.get<std::vector<std::vector<std::string>>>();
}

// sacreBLEU's README example (also test_bleu.py's test_corpus_bleu_cases).
const std::vector<std::string> kHyps = {"The dog bit the man.", "It wasn't surprising.",
                                        "The man had just bitten him."};
const std::vector<std::vector<std::string>> kRefs = {
    {"The dog bit the man.", "The dog had bit the man."},
    {"It was not unexpected.", "No one was surprised."},
    {"The man bit him first.", "The man had bitten the dog."}};

BleuOptions raw(double floor_value) {  // sacrebleu.raw_corpus_bleu(..., floor_value)
  BleuOptions o;
  o.tokenize = BleuTokenize::None;
  o.smooth = BleuSmooth::Floor;
  o.smooth_value = floor_value;
  o.effective_order = true;
  return o;
}

}  // namespace

TEST(Bleu, SacrebleuReadmeExample) {
  const BleuScore s = corpus_bleu(kHyps, kRefs);
  EXPECT_NEAR(s.score, 48.530827, 1e-6);
  EXPECT_EQ(s.sys_len, 17);
  EXPECT_EQ(s.ref_len, 18);
  EXPECT_NEAR(s.bp, 0.943, 5e-4);
  EXPECT_NEAR(s.precisions[0], 82.4, 0.05);
  EXPECT_NEAR(s.precisions[3], 37.5, 0.05);
  BleuOptions none;
  none.tokenize = BleuTokenize::None;
  EXPECT_NEAR(corpus_bleu(kHyps, kRefs, none).score, 49.1919566, 1e-6);
  BleuOptions no_smooth;
  no_smooth.smooth = BleuSmooth::None;
  EXPECT_NEAR(corpus_bleu(kHyps, kRefs, no_smooth).score, 48.530827, 1e-6);
  EXPECT_EQ(corpus_bleu({"", "", ""}, kRefs).score, 0.0);  // empty hypotheses stay counted
}

TEST(Bleu, SacrebleuRawAndEffectiveOrderCases) {
  EXPECT_NEAR(corpus_bleu({"this is a test"}, {{"this is a test"}}, raw(.01)).score / 100, 1.0,
              1e-8);
  EXPECT_NEAR(corpus_bleu({"this is a fest"}, {{"this is a test"}}, raw(.01)).score / 100,
              0.223606797749979, 1e-8);
  EXPECT_EQ(corpus_bleu({"this is a test", "another test"}, {{"ref1"}, {"ref2"}}, raw(.01)).score,
            0.0);  // no match at all is 0 (sacreBLEU #141)
  EXPECT_NEAR(corpus_bleu({"test"}, {{"a test"}}, raw(.01)).score / 100, 0.3678794411714425, 1e-8);
  EXPECT_NEAR(corpus_bleu({"a little test"}, {{"a test"}}, raw(.01)).score / 100,
              0.03218297948685433, 1e-8);
}

TEST(Bleu, SacrebleuStatisticsAndOffsets) {
  const std::string hyp = "am I am a character sequence";
  const std::string ref = "I am a symbol string sequence a a";
  const BleuScore s = corpus_bleu({hyp}, {{ref}}, raw(.01));
  EXPECT_EQ(s.correct, (std::vector<double>{4, 2, 1, 0}));
  EXPECT_EQ(s.total, (std::vector<double>{6, 5, 4, 3}));
  EXPECT_NEAR(corpus_bleu({hyp}, {{ref}}, raw(-1)).score / 100, 0.1555722182, 1e-8);
  EXPECT_EQ(corpus_bleu({hyp}, {{ref}}, raw(0.0)).score, 0.0);
  BleuOptions plain;
  plain.smooth = BleuSmooth::None;
  EXPECT_NEAR(compute_bleu({9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11, plain).score / 100, 0.8375922397,
              1e-8);
  BleuOptions floor;
  floor.smooth = BleuSmooth::Floor;
  floor.smooth_value = 0.0;
  EXPECT_EQ(compute_bleu({0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1, floor).score, 0.0);
  EXPECT_EQ(compute_bleu({6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6, floor).score, 0.0);
  floor.smooth_value = 0.01;
  EXPECT_EQ(compute_bleu({0, 0, 0, 0}, {0, 0, 0, 0}, 1, 5, floor).score, 0.0);
}

TEST(Bleu, SacrebleuSentenceCases) {  // test_sentence_bleu.py, example from sacreBLEU #98
  const std::string ref = "producţia de zahăr brut se exprimă în zahăr alb;";
  const std::string sys = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
  struct Case { BleuSmooth m; double v; BleuTokenize t; double expected; };
  const Case cases[] = {{BleuSmooth::Exp, -1, BleuTokenize::T13a, 8.493},
                        {BleuSmooth::None, -1, BleuTokenize::T13a, 0.0},
                        {BleuSmooth::Floor, -1, BleuTokenize::T13a, 4.51688},
                        {BleuSmooth::Floor, 0.5, BleuTokenize::T13a, 10.10},
                        {BleuSmooth::AddK, -1, BleuTokenize::T13a, 14.882},
                        {BleuSmooth::AddK, 2, BleuTokenize::T13a, 21.389},
                        {BleuSmooth::Exp, -1, BleuTokenize::None, 7.347}};
  for (const Case& c : cases) {
    BleuOptions o;
    o.smooth = c.m;
    o.smooth_value = c.v;
    o.tokenize = c.t;
    EXPECT_NEAR(sentence_bleu(sys, {ref}, o).score, c.expected, 1e-3);
  }
  for (BleuSmooth m : {BleuSmooth::Exp, BleuSmooth::None, BleuSmooth::Floor, BleuSmooth::AddK}) {
    BleuOptions o;
    o.smooth = m;
    EXPECT_EQ(sentence_bleu("this is a cat", {"okay thanks"}, o).score, 0.0);  // sacreBLEU #141
  }
}

TEST(Bleu, ClosestReferenceLengthTiesGoToShorter) {
  // hyp has 4 tokens; references of 3 and 5 tokens are equally close: the 3 is used.
  const BleuScore s = corpus_bleu({"a b c d"}, {{"a b c", "a b c d e"}});
  EXPECT_EQ(s.ref_len, 3);
  EXPECT_EQ(s.bp, 1.0);
  EXPECT_THROW(corpus_bleu({"a"}, {{""}}), engine::ValueError);   // no usable reference
  EXPECT_THROW(corpus_bleu({"a", "b"}, {{"a"}}), engine::ValueError);
}

TEST(Tokenize13a, MatchesPythonRegexes) {
  const auto j = vectors();
  for (const auto& c : j["tokenize_13a"])
    EXPECT_EQ(tokenize_13a(c["in"].get<std::string>()), c["out"].get<std::string>())
        << "input: " << c["in"];
  EXPECT_EQ(tokenize_13a("It costs $3.50, or 3,000 yen."), "It costs $ 3.50 , or 3,000 yen .");
  EXPECT_EQ(tokenize_13a("1990-2000"), "1990 - 2000");
  EXPECT_EQ(tokenize_13a("x..y"), "x . . y");
}

TEST(Text, PythonWhitespaceAndLowercase) {
  EXPECT_EQ(split_whitespace("a\u00a0b\u3000c\x1f d  "), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(rstrip_whitespace("ab \u2009\n"), "ab");
  const auto j = vectors();
  EXPECT_EQ(lowercase(j["lowercase"]["in"].get<std::string>()),
            j["lowercase"]["out"].get<std::string>());
}

TEST(Bleu, CorpusMatchesPythonReference) {
  const auto c = vectors()["corpus"];
  const auto hyps = c["hyps"].get<std::vector<std::string>>();
  const auto refs = refs_of(c["refs"]);
  EXPECT_NEAR(corpus_bleu(hyps, refs).score, c["sacrebleu"].get<double>(), 1e-9);
  BleuOptions o;
  o.tokenize = BleuTokenize::None;
  EXPECT_NEAR(corpus_bleu(hyps, refs, o).score, c["sacrebleu_none_tok"].get<double>(), 1e-9);
  o = {};
  o.smooth = BleuSmooth::Floor;
  EXPECT_NEAR(corpus_bleu(hyps, refs, o).score, c["sacrebleu_floor"].get<double>(), 1e-9);
  o.smooth = BleuSmooth::AddK;
  EXPECT_NEAR(corpus_bleu(hyps, refs, o).score, c["sacrebleu_addk"].get<double>(), 1e-9);
  const auto sent = c["sacrebleu_sentences"].get<std::vector<double>>();
  for (size_t i = 0; i < hyps.size(); ++i)
    EXPECT_NEAR(sentence_bleu(hyps[i], refs[i]).score, sent[i], 1e-9) << "segment " << i;
}

TEST(Mteval, HandComputed) {
  // Identical, case-insensitive: BLEU 1. NIST of "a b" vs "a b": each unigram carries
  // log2(2 words / 1) = 1 bit, the bigram log2(1/1) = 0, so NIST = (1+1)/2 = 1.
  EXPECT_NEAR(mteval_bleu({"The cat sat on the mat."}, {{"the cat sat on the mat ."}}), 1.0, 1e-12);
  EXPECT_NEAR(mteval_nist({"a b"}, {{"a b"}}), 1.0, 1e-12);
  MtevalOptions cs;
  cs.case_sensitive = true;
  EXPECT_LT(mteval_bleu({"The cat sat on the mat."}, {{"the cat sat on the mat ."}}, cs), 1.0);
}

TEST(Mteval, CorpusMatchesPythonReference) {
  const auto c = vectors()["corpus"];
  const auto hyps = c["hyps"].get<std::vector<std::string>>();
  const auto refs = refs_of(c["refs"]);
  EXPECT_NEAR(mteval_bleu(hyps, refs), c["mteval_bleu"].get<double>(), 1e-12);
  EXPECT_NEAR(mteval_nist(hyps, refs), c["mteval_nist"].get<double>(), 1e-9);
}

TEST(RougeL, HandComputed) {
  // LCS("a b c d", "a c d e f") = 3: P = 3/4, R = 3/5, F(beta=1.2) = 2.44*.45/(.6+1.44*.75).
  EXPECT_NEAR(rouge_l_segment("a b c d", {"a c d e f"}), 2.44 * 0.45 / 1.68, 1e-12);
  // Max precision and max recall are taken separately over the references (coco-caption).
  EXPECT_NEAR(rouge_l_segment("a b c d", {"a b", "a b c d e f g h"}), 1.0, 1e-12);
  EXPECT_EQ(rouge_l_segment("x y", {"a b"}), 0.0);
  EXPECT_EQ(lcs_length({"a", "b", "c", "b"}, {"b", "c", "b", "a"}), 3u);
}

TEST(Cider, HandComputed) {
  // Two segments, disjoint vocabularies, hypothesis == reference: orders 1 and 2 have cosine
  // 1, orders 3 and 4 are empty (0), no length penalty: 10 * (1+1+0+0)/4 = 5.
  const CiderScore s = cider({"a b", "c d"}, {{"a b"}, {"c d"}});
  EXPECT_NEAR(s.score, 5.0, 1e-12);
  EXPECT_NEAR(s.segments[1], 5.0, 1e-12);
}

TEST(Coco, CorpusMatchesPythonReference) {
  const auto c = vectors()["corpus"];
  const auto hyps = c["coco_hyps"].get<std::vector<std::string>>();
  const auto refs = refs_of(c["coco_refs"]);
  EXPECT_NEAR(rouge_l(hyps, refs), c["rouge_l"].get<double>(), 1e-12);
  const CiderScore s = cider(hyps, refs);
  EXPECT_NEAR(s.score, c["cider"].get<double>(), 1e-9);
  const auto seg = c["cider_segments"].get<std::vector<double>>();
  for (size_t i = 0; i < seg.size(); ++i) EXPECT_NEAR(s.segments[i], seg[i], 1e-9);
}

TEST(Coco, TokenizeApproximatesPtb) {
  EXPECT_EQ(coco_tokenize("The Eagle isn't cheap, it's \"near\" (Burger King)."),
            "the eagle is n't cheap it 's near -lrb- burger king -rrb-");
}

TEST(Classification, HandComputed) {
  const Labels pred = {1, 0, 1, 1, 0, 1}, gold = {1, 0, 0, 1, 1, 1};  // TP 3 FP 1 FN 1 TN 1
  EXPECT_NEAR(accuracy(pred, gold), 4.0 / 6, 1e-12);
  EXPECT_NEAR(f1_binary(pred, gold), 0.75, 1e-12);
  EXPECT_NEAR(f1_binary(pred, gold, 0), 0.5, 1e-12);
  EXPECT_NEAR(f1_macro(pred, gold), 0.625, 1e-12);
  EXPECT_NEAR(f1_micro(pred, gold), 4.0 / 6, 1e-12);
  EXPECT_NEAR(matthews_corrcoef(pred, gold), 0.25, 1e-12);  // (3*1-1*1)/sqrt(4*4*2*2)
  // scikit-learn's docstring example.
  EXPECT_NEAR(matthews_corrcoef({1, -1, 1, 1}, {1, 1, 1, -1}), -1.0 / 3, 1e-12);
  // Multiclass: c=5, s=6, t=(2,2,2), p=(2,3,1): (30-12)/sqrt((36-12)(36-14)).
  EXPECT_NEAR(matthews_corrcoef({0, 1, 2, 0, 1, 1}, {0, 1, 2, 0, 1, 2}), 18 / std::sqrt(528.0),
              1e-12);
  EXPECT_EQ(matthews_corrcoef({1, 1, 1}, {0, 1, 0}), 0.0);  // constant prediction
  EXPECT_THROW(accuracy({1}, {1, 0}), engine::ValueError);
}
