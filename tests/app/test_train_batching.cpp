// Tests of app/train/batching.h and objectives.h: label masking and dynamic padding for the
// three task kinds, seeded length bucketing, and the pretraining corruptions (BERT masking
// rates and special tokens, T5 span corruption that reassembles to the original block).
#include <algorithm>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "app/train/batching.h"
#include "app/train/objectives.h"
#include "engine/engine.h"
#include "models/tokenizers/train/train.h"

using namespace app::train;

namespace {

// A small byte-level BPE (eos = <|endoftext|>, id 0) trained on a few sentences.
const models::Tokenizer& tokenizer() {
  static const auto tok = [] {
    std::vector<std::string> texts;
    for (int i = 0; i < 20; ++i)
      texts.push_back("name : Golden Lantern | Type : pub | food : Italian = Golden Lantern is an Italian pub.\n");
    models::train::TrainOptions o;
    o.vocab_size = 300;
    return std::move(models::train::train_bpe(texts, o).tokenizer);
  }();
  return *tok;
}

std::vector<int64_t> row(const engine::Tensor& t, int64_t b) { return t.select(0, b).to_vector<int64_t>(); }

}  // namespace

TEST(Batching, CausalLmMasksSourceAndPadding) {
  const models::Tokenizer& tok = tokenizer();
  const Features a = causal_lm_features(tok, "name : Golden Lantern | Type : pub", "Golden Lantern is a pub.");
  const Features b = causal_lm_features(tok, "name : Golden Lantern", "Golden Lantern is an Italian pub.");
  const size_t prompt = causal_lm_prompt(tok, "name : Golden Lantern | Type : pub").size();
  ASSERT_EQ(a.input_ids.size(), a.labels.size());
  for (size_t i = 0; i < a.labels.size(); ++i) EXPECT_EQ(a.labels[i], i < prompt ? kIgnoreIndex : a.input_ids[i]) << i;
  EXPECT_EQ(a.input_ids.back(), *tok.eos_id());
  EXPECT_EQ(tok.decode(std::vector<int64_t>(a.input_ids.begin() + long(prompt), a.input_ids.end() - 1)),
            " Golden Lantern is a pub.");

  std::vector<const Features*> rows = {&a, &b};
  const models::Batch batch = collate(rows, TaskKind::causal_lm, /*pad_id=*/7);
  const int64_t T = int64_t(std::max(a.input_ids.size(), b.input_ids.size()));
  EXPECT_EQ(batch.input_ids.shape(), (engine::Shape{2, T}));
  EXPECT_EQ(batch.labels.shape(), (engine::Shape{2, T}));
  EXPECT_FALSE(batch.token_type_ids.defined());
  const Features& shorter = a.input_ids.size() < b.input_ids.size() ? a : b;
  const int64_t s = &shorter == &a ? 0 : 1;
  const auto ids = row(batch.input_ids, s), mask = row(batch.attention_mask, s), labels = row(batch.labels, s);
  for (int64_t t = 0; t < T; ++t) {
    const bool pad = size_t(t) >= shorter.input_ids.size();
    EXPECT_EQ(mask[size_t(t)], pad ? 0 : 1);
    EXPECT_EQ(ids[size_t(t)], pad ? 7 : shorter.input_ids[size_t(t)]);
    EXPECT_EQ(labels[size_t(t)], pad ? kIgnoreIndex : shorter.labels[size_t(t)]);
  }
}

TEST(Batching, DataToTextFeaturesOnePerReference) {
  app::data::DataToTextExample ex;
  ex.source = "name[Golden Lantern], eatType[pub]";
  ex.references = {"Golden Lantern is a pub.", "There is a pub called Golden Lantern."};
  EXPECT_EQ(linearized_source(ex), "name : Golden Lantern | Type : pub");
  const auto f = data_to_text_features(tokenizer(), {ex});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].input_ids, causal_lm_features(tokenizer(), linearized_source(ex), ex.references[1]).input_ids);
}

TEST(Batching, LongSourceIsCutButTargetKept) {
  CausalLmFormat f;
  f.max_length = 24;
  std::string source;
  for (int i = 0; i < 30; ++i) source += "food : Italian | ";
  const Features x = causal_lm_features(tokenizer(), source, "Golden Lantern is a pub.", f);
  EXPECT_EQ(x.input_ids.size(), 24u);
  EXPECT_EQ(x.input_ids.back(), *tokenizer().eos_id());
  const auto answer = std::count_if(x.labels.begin(), x.labels.end(), [](int64_t l) { return l != kIgnoreIndex; });
  EXPECT_EQ(size_t(answer), tokenizer().encode(" Golden Lantern is a pub.", false).size() + 1);
}

TEST(Batching, ClassificationAndSeq2Seq) {
  const models::Tokenizer& tok = tokenizer();
  const Features c1 = classification_features(tok, {"Golden Lantern", "", 1, ""});
  const Features c2 = classification_features(tok, {"an Italian pub", "Golden Lantern", 0, ""});
  std::vector<const Features*> rows = {&c1, &c2};
  const models::Batch b = collate(rows, TaskKind::classification, 0);
  EXPECT_EQ(b.labels.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(b.token_type_ids.defined());  // the pair brings token types

  const Features s1 = seq2seq_features(tok, "name : Golden Lantern", "Golden Lantern is a pub.");
  const Features s2 = seq2seq_features(tok, "name : Golden Lantern | food : Italian", "It is Italian.");
  EXPECT_EQ(s1.input_ids.back(), *tok.eos_id());
  EXPECT_EQ(s1.labels.back(), *tok.eos_id());
  std::vector<const Features*> pair = {&s1, &s2};
  const models::Batch s = collate(pair, TaskKind::seq2seq, 5);
  const size_t Tl = std::max(s1.labels.size(), s2.labels.size());
  EXPECT_EQ(s.labels.shape(), (engine::Shape{2, int64_t(Tl)}));
  const auto l2 = row(s.labels, 1);
  for (size_t t = s2.labels.size(); t < Tl; ++t) EXPECT_EQ(l2[t], kIgnoreIndex);
}

TEST(Batching, BucketedOrderIsASeededPermutationOfSimilarLengths) {
  std::vector<size_t> lengths;
  for (size_t i = 0; i < 100; ++i) lengths.push_back((i * 37) % 50 + 1);
  const auto order = bucketed_order(lengths, 4, 5, 11);
  auto sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<size_t> all(100);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);
  EXPECT_EQ(order, bucketed_order(lengths, 4, 5, 11));
  EXPECT_NE(order, bucketed_order(lengths, 4, 5, 12));
  // Within a batch lengths are close (sorted buckets of 20 out of 100): padding shrinks.
  size_t spread = 0, random_spread = 0;
  const auto plain = bucketed_order(lengths, 4, 0, 11);
  for (size_t b = 0; b < 100; b += 4) {
    auto span = [&](const std::vector<size_t>& o) {
      size_t lo = 1000, hi = 0;
      for (size_t i = b; i < b + 4; ++i) lo = std::min(lo, lengths[o[i]]), hi = std::max(hi, lengths[o[i]]);
      return hi - lo;
    };
    spread += span(order), random_spread += span(plain);
  }
  EXPECT_LT(spread * 3, random_spread);
}

TEST(Objectives, MaskedLmRatesAndSpecialTokens) {
  MlmOptions o;
  o.mask_id = 4, o.vocab_size = 1000, o.special_ids = {1, 2};
  std::vector<int64_t> ids(20000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = i % 100 == 0 ? 1 : int64_t(100 + i % 800);
  const auto original = ids;
  app::data::SplitMix64 rng(3);
  const auto labels = mask_tokens(ids, o, rng);
  size_t chosen = 0, masked = 0, kept = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (original[i] == 1) {
      EXPECT_EQ(labels[i], kIgnoreIndex);
      EXPECT_EQ(ids[i], 1);
      continue;
    }
    if (labels[i] == kIgnoreIndex) {
      EXPECT_EQ(ids[i], original[i]);
      continue;
    }
    ++chosen;
    EXPECT_EQ(labels[i], original[i]);
    masked += ids[i] == 4;
    kept += ids[i] == original[i];
  }
  const double n = double(ids.size()) * 0.99;
  EXPECT_NEAR(double(chosen) / n, 0.15, 0.01);
  EXPECT_NEAR(double(masked) / double(chosen), 0.8, 0.03);
  EXPECT_NEAR(double(kept) / double(chosen), 0.1, 0.03);
}

TEST(Objectives, SpanCorruptionReassemblesToTheBlock) {
  SpanOptions o;
  o.eos_id = 1;
  for (int64_t i = 0; i < 100; ++i) o.sentinel_ids.push_back(1000 + i);
  TokenBlock block;
  for (int64_t i = 0; i < 128; ++i) block.push_back(10 + i);
  app::data::SplitMix64 rng(9);
  const Features f = span_corrupt(block, o, rng);
  // Replace each sentinel of the input by the tokens that follow it in the target.
  std::vector<int64_t> rebuilt;
  size_t noise = 0, spans = 0;
  for (int64_t id : f.input_ids) {
    if (id < 1000) {
      if (id != 1) rebuilt.push_back(id);
      continue;
    }
    ++spans;
    auto at = std::find(f.labels.begin(), f.labels.end(), id);
    ASSERT_NE(at, f.labels.end());
    for (++at; at != f.labels.end() && *at < 1000 && *at != 1; ++at) rebuilt.push_back(*at), ++noise;
  }
  EXPECT_EQ(rebuilt, block);
  EXPECT_EQ(noise, 19u);  // round(128 * 0.15)
  EXPECT_EQ(spans, 6u);   // round(19 / 3)
  EXPECT_EQ(f.input_ids.back(), 1);
  EXPECT_EQ(f.labels.back(), 1);
}

TEST(Objectives, TokenBlocksAndDatasetsReplayFromTheirSeed) {
  const std::vector<std::string> docs(30, "Golden Lantern is an Italian pub.");
  const auto blocks = token_blocks(tokenizer(), docs, 16, *tokenizer().eos_id());
  ASSERT_GT(blocks.size(), 3u);
  for (const auto& b : blocks) EXPECT_EQ(b.size(), 16u);
  EXPECT_THROW(token_blocks(tokenizer(), {"pub"}, 64, 0), engine::ValueError);

  auto shared = std::make_shared<std::vector<TokenBlock>>(blocks);
  MlmOptions m;
  m.mask_id = 3, m.vocab_size = tokenizer().vocab_size();
  const Dataset d = masked_lm_dataset(shared, 1, 2, 0, m);
  const std::vector<size_t> idx = {0, 1, 2};
  const models::Batch x = d.collate(idx, 5), y = d.collate(idx, 5), z = d.collate(idx, 6);
  EXPECT_EQ(x.input_ids.shape(), (engine::Shape{3, 18}));
  EXPECT_EQ(x.labels.to_vector<int64_t>(), y.labels.to_vector<int64_t>());
  EXPECT_NE(x.labels.to_vector<int64_t>(), z.labels.to_vector<int64_t>());
}
