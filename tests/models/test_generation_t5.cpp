// Encoder-decoder generation on a tiny random T5: KV-cached greedy decoding equals greedy by
// recomputing the whole decoder input each step, batched prompts of different lengths equal
// each prompt alone, and a beam search result's score equals its recomputed log-probability
// (sum log p / length^length_penalty, length counting the decoder start token).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/engine.h"
#include "models/generation/generate.h"
#include "models/generation/logits_process.h"
#include "models/model.h"
#include "test_gpt2_reference.h"

namespace {
using namespace models::generation;
using Tokens = std::vector<std::vector<int64_t>>;

models::ModelPtr tiny_t5() {
  const nlohmann::json config = {{"model_type", "t5"},
                                 {"vocab_size", 37},
                                 {"d_model", 16},
                                 {"d_kv", 4},
                                 {"d_ff", 24},
                                 {"num_layers", 2},
                                 {"num_decoder_layers", 2},
                                 {"num_heads", 2},
                                 {"relative_attention_num_buckets", 8},
                                 {"relative_attention_max_distance", 20},
                                 {"decoder_start_token_id", 0},
                                 {"pad_token_id", 0},
                                 {"eos_token_id", 1}};
  models::ModelPtr model = models::create_model(config, "T5ForConditionalGeneration", 11);
  // HF's init gives near one-hot next-token distributions (one token wins everywhere); the
  // reference GPT-2's formula weights (layer norms around 1) make beams compete and rows differ.
  for (auto& [name, p] : model->named_parameters()) {
    gpt2_reference::fill_formula(name, p);
    if (name.find("layer_norm.weight") != std::string::npos) engine::add_(p, engine::ones_like(p));
  }
  model->eval();
  return model;
}

// Log-probabilities of the next decoder token after `decoded` (start token first), from a
// full forward without cache.
std::vector<float> next_log_probs(models::PretrainedModel& model, const std::vector<int64_t>& prompt,
                                  const std::vector<int64_t>& decoded) {
  engine::NoGradGuard no_grad;
  models::Batch batch;
  batch.input_ids = engine::from_vector(prompt, {1, int64_t(prompt.size())});
  batch.decoder_input_ids = engine::from_vector(decoded, {1, int64_t(decoded.size())});
  const engine::Tensor logits = model.forward(batch).logits;  // [1,T,V]
  std::vector<float> row = logits.select(1, logits.size(1) - 1).contiguous().to_vector<float>();
  log_softmax(row);
  return row;
}

const Tokens kPrompts = {{5, 9, 13, 20, 7, 1}, {30, 4, 1}};

TEST(GenerationT5, CachedGreedyEqualsRecomputation) {
  auto model = tiny_t5();
  GenerationConfig g = default_generation_config(model->config());
  ASSERT_EQ(g.decoder_start_token_id, 0);
  g.eos_token_ids.clear();  // run every row to max_new_tokens
  g.max_new_tokens = 8;
  const Tokens batched = generate(*model, kPrompts, g).tokens;
  EXPECT_NE(batched[0], batched[1]);  // the encoder output matters
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    std::vector<int64_t> decoded = {0};
    for (int step = 0; step < g.max_new_tokens; ++step) decoded.push_back(argmax(next_log_probs(*model, kPrompts[i], decoded)));
    EXPECT_EQ(batched[i], std::vector<int64_t>(decoded.begin() + 1, decoded.end())) << "prompt " << i;
    EXPECT_EQ(generate(*model, {kPrompts[i]}, g).tokens[0], batched[i]) << "prompt " << i;
  }
}

TEST(GenerationT5, BeamScoresAreTheHypothesesLogProbabilities) {
  auto model = tiny_t5();
  GenerationConfig g = default_generation_config(model->config());
  g.num_beams = 3, g.max_new_tokens = 6, g.length_penalty = 0.7;
  const GenerationOutput out = generate(*model, kPrompts, g);
  EXPECT_EQ(out.tokens[0], std::vector<int64_t>{1});  // an eos hypothesis wins for prompt 0...
  EXPECT_EQ(out.tokens[1].size(), 6u);                // ...while prompt 1 runs to max_new_tokens
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    std::vector<int64_t> decoded = {0};
    double sum = 0;
    for (int64_t token : out.tokens[i]) {
      sum += next_log_probs(*model, kPrompts[i], decoded)[size_t(token)];
      decoded.push_back(token);
    }
    // HF scores an eos hypothesis at the length before its eos; others at their full length.
    const bool eos = !out.tokens[i].empty() && out.tokens[i].back() == 1;
    const double length = double(decoded.size()) - (eos ? 1 : 0);
    EXPECT_NEAR(out.scores[i], sum / std::pow(length, g.length_penalty), 1e-4) << "prompt " << i;
  }
}

}  // namespace
