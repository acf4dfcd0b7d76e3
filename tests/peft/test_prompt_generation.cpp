// Generation with prompt tuning / P-tuning / prefix tuning on tiny GPT-2 and T5: KV-cached
// greedy decoding through PeftModel::forward (virtual tokens enter the cache on the first step,
// the prefix is given again every step) equals recomputing the whole sequence each step, in
// tokens and step logits, and peft::generate returns the same tokens.
#include <span>

#include "models/generation/incremental_decoder.h"
#include "models/generation/logits_process.h"
#include "peft/core/generate.h"
#include "test_prompt_support.h"

namespace {
using namespace prompt_test;
using Tokens = std::vector<std::vector<int64_t>>;

const Tokens kPrompts = {{5, 9, 13, 20}, {30, 4, 8, 2}};  // equal lengths: no padding to place
constexpr int kSteps = 6;

// Next-token logits [rows, V] from a forward over the whole sequence, no cache.
Tensor recomputed_logits(peft::PeftModel& m, const Tokens& prompts, const Tokens& generated) {
  const int64_t N = int64_t(prompts.size());
  std::vector<int64_t> ids, decoded;
  for (int64_t r = 0; r < N; ++r) {
    ids.insert(ids.end(), prompts[size_t(r)].begin(), prompts[size_t(r)].end());
    decoded.push_back(0);  // T5's decoder start token
    decoded.insert(decoded.end(), generated[size_t(r)].begin(), generated[size_t(r)].end());
    if (!m.base().is_encoder_decoder()) ids.insert(ids.end(), generated[size_t(r)].begin(), generated[size_t(r)].end());
  }
  models::Batch batch;
  batch.input_ids = engine::from_vector(ids, {N, int64_t(ids.size()) / N});
  batch.attention_mask = engine::ones(batch.input_ids.shape(), engine::DType::i64);
  if (m.base().is_encoder_decoder()) batch.decoder_input_ids = engine::from_vector(decoded, {N, int64_t(decoded.size()) / N});
  const Tensor logits = m.forward(batch).logits;  // [N,T,V]
  return logits.select(1, logits.size(1) - 1);
}

void expect_cached_equals_recomputed(peft::PeftModel& m, const std::string& what) {
  engine::NoGradGuard no_grad;
  models::generation::IncrementalDecoder decoder(
      m.base(), kPrompts, /*pad_id=*/0, /*start_id=*/0,
      [&m](const models::Batch& b, const models::ForwardOptions& o) { return m.forward(b, o); });
  Tokens generated(kPrompts.size());
  std::vector<int64_t> fed;
  for (int step = 0; step < kSteps; ++step) {
    std::vector<float> cached = decoder.next_logits(fed);  // [N,V]
    const Tensor full = recomputed_logits(m, kPrompts, generated);
    const int64_t V = full.size(1);
    ASSERT_EQ(int64_t(cached.size()), int64_t(kPrompts.size()) * V) << what;
    const Tensor cached_t = engine::from_vector(cached, full.shape());
    EXPECT_LT(max_abs_diff(cached_t, full), 1e-5 * max_abs(full) + 1e-6) << what << " step " << step;
    fed.clear();
    for (size_t r = 0; r < kPrompts.size(); ++r) {
      fed.push_back(models::generation::argmax(std::span<const float>(cached.data() + int64_t(r) * V, size_t(V))));
      generated[r].push_back(fed.back());
    }
  }
  models::generation::GenerationConfig config;
  config.max_new_tokens = kSteps;
  config.pad_token_id = 0;
  config.decoder_start_token_id = 0;
  EXPECT_EQ(peft::generate(m, kPrompts, config).tokens, generated) << what;
}

TEST(PromptGeneration, CachedGreedyEqualsRecomputation) {
  for (const std::string& type : {"gpt2", "t5"})
    for (const std::string& preset : {"prompt_tuning", "p_tuning", "prefix_tuning", "prefix_tuning_mlp"}) {
      auto m = with_adapter(type, preset, {{"num_virtual_tokens", 3}});
      expect_cached_equals_recomputed(*m, type + " " + preset);
    }
}

// The adapter really steers generation: its tokens differ from the base model's.
TEST(PromptGeneration, AdapterChangesTheContinuation) {
  for (const std::string& type : {"gpt2", "t5"}) {
    auto m = with_adapter(type, "prefix_tuning", {{"num_virtual_tokens", 3}});
    models::generation::GenerationConfig config;
    config.max_new_tokens = kSteps;
    config.pad_token_id = 0;
    config.decoder_start_token_id = 0;
    const Tokens adapted = peft::generate(*m, kPrompts, config).tokens;
    Tokens base;
    {
      auto off = m->disable_adapters();
      base = peft::generate(*m, kPrompts, config).tokens;
    }
    EXPECT_NE(adapted, base) << type;
  }
}

}  // namespace
