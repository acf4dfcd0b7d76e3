// Generation: greedy and beam search against a hand-written PyTorch reimplementation of HF's
// greedy_search / BeamSearchScorer on the tiny reference GPT-2 (tests/models/data/
// gpt2_reference.py), batching with left padding, seeded sampling, the logits warpers, beam
// hypotheses bookkeeping and generation settings.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "models/generation/beam_search.h"
#include "models/generation/generate.h"
#include "models/generation/logits_process.h"
#include "support/test_support.h"
#include "test_gpt2_reference.h"

namespace {
using namespace models::generation;
using Tokens = std::vector<std::vector<int64_t>>;

struct Reference {
  nlohmann::json json = gpt2_reference::load_json();
  models::ModelPtr model = gpt2_reference::make_model(json);
  Tokens prompts = json["prompts"].get<Tokens>();
  GenerationConfig base() const { return default_generation_config(json["config"]); }  // eos 27
};

TEST(Generation, GreedyMatchesReferenceBatchedAndAlone) {
  Reference ref;
  GenerationConfig g = ref.base();
  ASSERT_EQ(g.eos_token_ids, std::vector<int64_t>{27});
  g.max_new_tokens = ref.json["greedy"]["max_new_tokens"];
  const Tokens expected = ref.json["greedy"]["tokens"].get<Tokens>();
  // Row 0 stops at eos after 3 tokens while row 1 runs to max_new_tokens.
  EXPECT_EQ(generate(*ref.model, ref.prompts, g).tokens, expected);
  for (size_t i = 0; i < ref.prompts.size(); ++i)
    EXPECT_EQ(generate(*ref.model, {ref.prompts[i]}, g).tokens[0], expected[i]);
}

TEST(Generation, BeamSearchMatchesReference) {
  Reference ref;
  for (const char* name : {"beams_3", "beams_3_lp0", "beams_3_early", "beams_4_lp2_never"}) {
    const nlohmann::json& c = ref.json[name];
    GenerationConfig g = ref.base();
    g.num_beams = c["num_beams"], g.max_new_tokens = c["max_new_tokens"], g.length_penalty = c["length_penalty"];
    g.early_stopping = c["early_stopping"].is_string() ? EarlyStopping::kNever
                       : c["early_stopping"].get<bool>() ? EarlyStopping::kTrue
                                                         : EarlyStopping::kFalse;
    const GenerationOutput out = generate(*ref.model, ref.prompts, g);
    EXPECT_EQ(out.tokens, c["tokens"].get<Tokens>()) << name;
    const std::vector<double> scores = c["scores"];
    ASSERT_EQ(out.scores.size(), scores.size()) << name;
    for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(out.scores[i], scores[i], 1e-4 * std::abs(scores[i])) << name;
  }
}

TEST(Generation, SamplingIsSeededAndTopKOneIsGreedy) {
  Reference ref;
  GenerationConfig g = ref.base();
  g.eos_token_ids.clear();
  g.max_new_tokens = 12;
  g.do_sample = true;
  g.seed = 7;
  const Tokens first = generate(*ref.model, ref.prompts, g).tokens;
  EXPECT_EQ(generate(*ref.model, ref.prompts, g).tokens, first);
  g.seed = 8;
  EXPECT_NE(generate(*ref.model, ref.prompts, g).tokens, first);  // flat distributions: 24 draws differ

  GenerationConfig greedy = ref.base();
  greedy.eos_token_ids.clear();
  greedy.max_new_tokens = 12;
  const Tokens expected = generate(*ref.model, ref.prompts, greedy).tokens;
  g.top_k = 1;
  EXPECT_EQ(generate(*ref.model, ref.prompts, g).tokens, expected);
  g.top_k = 0, g.top_p = 1e-6;  // nucleus of one token
  EXPECT_EQ(generate(*ref.model, ref.prompts, g).tokens, expected);
}

TEST(LogitsProcess, TopKKeepsTiesAtTheBoundary) {
  std::vector<float> s = {1, 3, 2, 3, 0};
  apply_top_k(s, 2);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(s, (std::vector<float>{-inf, 3, -inf, 3, -inf}));
  std::vector<float> t = {1, 3, 2};
  apply_top_k(t, 0);
  EXPECT_EQ(t, (std::vector<float>{1, 3, 2}));
}

TEST(LogitsProcess, TopPKeepsTheSmallestSetAboveP) {
  // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.8 keeps {0.5, 0.3} (cumulative from the least
  // likely: 0.05, 0.2 <= 0.2 removed; 0.5 > 0.2 kept).
  std::vector<float> s = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  apply_top_p(s, 0.8);
  EXPECT_TRUE(std::isinf(s[0]) && std::isinf(s[2]));
  EXPECT_FALSE(std::isinf(s[1]) || std::isinf(s[3]));
  std::vector<float> one = {0.f, 5.f, 1.f};
  apply_top_p(one, 1e-9);  // the most likely token always survives
  EXPECT_EQ(argmax(one), 1);
  EXPECT_TRUE(std::isinf(one[0]) && std::isinf(one[2]));
}

TEST(LogitsProcess, TemperatureLogSoftmaxAndSampling) {
  std::vector<float> s = {2, 4};
  apply_temperature(s, 2.0);
  EXPECT_EQ(s, (std::vector<float>{1, 2}));
  log_softmax(s);
  EXPECT_NEAR(std::exp(s[0]) + std::exp(s[1]), 1.0, 1e-6);
  EXPECT_NEAR(s[1] - s[0], 1.0, 1e-6);
  engine::Generator gen(3);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> filtered = {-inf, 0.f, -inf, 0.f};
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 400; ++i) ++counts[sample(filtered, gen)];
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_GT(counts[1], 120);  // ~200 each
  EXPECT_GT(counts[3], 120);
}

TEST(BeamHypotheses, KeepsTheBestAndStopsAsHF) {
  BeamHypotheses h(2, 1.0, EarlyStopping::kFalse, 10);
  h.add({1}, -4.0, 4, true);  // score -1
  EXPECT_FALSE(h.is_done(-100.0, 5));  // fewer than num_beams hypotheses: never done
  h.add({2}, -2.0, 4, true);  // -0.5; worst -1
  EXPECT_TRUE(h.is_done(-10.0, 5));   // a running beam reaches at best -10/5 = -2 < -1
  EXPECT_FALSE(h.is_done(-4.0, 5));   // -0.8 could still enter
  h.add({3}, -12.0, 4, true);  // -3 <= worst: dropped
  EXPECT_EQ(h.size(), 2);
  h.add({4}, -1.2, 4, false);  // -0.3 evicts -1; worst becomes -0.5
  EXPECT_EQ(h.size(), 2);
  EXPECT_EQ(h.best().tokens, std::vector<int64_t>{4});
  EXPECT_FALSE(h.best().ended_with_eos);
  EXPECT_TRUE(h.is_done(-4.0, 5));  // -0.8 < -0.5

  BeamHypotheses never(1, 2.0, EarlyStopping::kNever, 10);
  never.add({1}, -1.0, 2, true);                 // -1/4 = -0.25
  EXPECT_FALSE(never.is_done(-20.0, 5));  // judged at max_length: -20/10^2 = -0.2 > -0.25
  EXPECT_TRUE(never.is_done(-30.0, 5));   // -0.3 < -0.25 (at cur_len it would be -1.2)
  BeamHypotheses early(1, 1.0, EarlyStopping::kTrue, 10);
  early.add({1}, -50.0, 2, true);
  EXPECT_TRUE(early.is_done(0.0, 3));  // full: done whatever the running beams
}

TEST(GenerationConfig, ReadsFolderDefaultsAndValidates) {
  GenerationConfig g = default_generation_config({{"eos_token_id", nlohmann::json::array({5, 6})}, {"num_beams", 3}});
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(g.num_beams, 3);
  EXPECT_EQ(g.pad_id(), 5);  // HF: pad falls back to the first eos
  EXPECT_THROW(default_generation_config({{"early_stopping", "sometimes"}}), engine::ConfigError);
  g.top_p = 0;
  EXPECT_THROW(validate(g), engine::ValueError);
  g.top_p = 1, g.do_sample = true;
  EXPECT_THROW(validate(g), engine::ValueError);  // beam-sample is not supported
  SKIP_WITHOUT_SHARED("models/tiny-gpt2-random");
  const auto dir = test_support::shared_path("models/tiny-gpt2-random");
  EXPECT_EQ(default_generation_config({}, dir).eos_token_ids, std::vector<int64_t>{50256});
}

}  // namespace
