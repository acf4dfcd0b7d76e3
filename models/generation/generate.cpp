// generate(): greedy search and sampling here, beam search in beam_search.cpp; transformers
// 4.33 GenerationMixin.greedy_search / sample.
#include "models/generation/generate.h"

#include <algorithm>
#include <span>

#include "engine/core/error.h"
#include "models/generation/beam_search.h"
#include "models/generation/incremental_decoder.h"
#include "models/generation/logits_process.h"

namespace models::generation {
namespace {

bool is_eos(const GenerationConfig& c, int64_t token) {
  return std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), token) != c.eos_token_ids.end();
}

// One token from a row of logits: argmax, or a draw after the warpers in HF's order
// (temperature, top-k, top-p).
int64_t choose(std::span<float> logits, const GenerationConfig& c, engine::Generator& gen) {
  if (!c.do_sample) return argmax(logits);
  if (c.temperature != 1.0) apply_temperature(logits, c.temperature);
  apply_top_k(logits, c.top_k);
  apply_top_p(logits, c.top_p);
  return sample(logits, gen);
}

// Greedy / sampling: every row advances one token per step; a row that produced eos is
// finished (HF feeds it pad tokens) and the loop ends when all are, or at max_new_tokens.
GenerationOutput search(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                        const GenerationConfig& config, const ForwardFn& forward) {
  IncrementalDecoder decoder(model, prompts, config.pad_id(), config.decoder_start_token_id.value_or(config.pad_id()),
                             forward);
  engine::Generator gen(config.seed);
  const size_t N = prompts.size();
  GenerationOutput out;
  out.tokens.resize(N);
  std::vector<bool> finished(N, false);
  std::vector<int64_t> fed;
  // Greedy search on a GPU takes the argmax there (N ids come back per step, not N×V logits);
  // on the host it stays the loop below, so CPU results are exactly as before.
  const bool device_argmax = !config.do_sample && !decoder.on_host();
  for (int64_t step = 0; step < config.max_new_tokens; ++step) {
    std::vector<float> logits;
    std::vector<int64_t> chosen;
    if (device_argmax) chosen = decoder.next_argmax(fed);  // [N]
    else logits = decoder.next_logits(fed);                // [N,V]
    const int64_t V = decoder.vocab_size();
    fed.assign(N, config.pad_id());
    for (size_t r = 0; r < N; ++r) {
      if (finished[r]) continue;
      fed[r] = device_argmax ? chosen[r]
                             : choose(std::span<float>(logits.data() + int64_t(r) * V, size_t(V)), config, gen);
      out.tokens[r].push_back(fed[r]);
      finished[r] = is_eos(config, fed[r]);
    }
    if (std::all_of(finished.begin(), finished.end(), [](bool f) { return f; })) break;
  }
  return out;
}

}  // namespace

GenerationOutput generate(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationConfig& config) {
  return generate(model, prompts, config, ForwardFn{});
}

GenerationOutput generate(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationConfig& config, const ForwardFn& forward) {
  validate(config);
  engine::check<engine::ValueError>(!model.is_encoder_decoder() || config.decoder_start_token_id.has_value() ||
                                        config.pad_token_id.has_value(),
                                    "[generate] an encoder-decoder model needs decoder_start_token_id (or pad_token_id)");
  if (config.num_beams > 1) return beam_search(model, prompts, config, forward);
  return search(model, prompts, config, forward);
}

}  // namespace models::generation
