// Text generation for decoder-only (GPT-2) and encoder-decoder (T5) models, reproducing HF
// transformers 4.33 `generate`: greedy search, sampling (temperature, top-k, top-p; our own
// seeded Philox stream, so draws differ from torch's), and beam search (num_beams,
// length_penalty, early_stopping), max_new_tokens, eos stopping, batched prompts of different
// lengths, and a KV cache so each new token costs one position.
#pragma once
#include <functional>
#include <vector>

#include "models/generation/generation_config.h"
#include "models/model.h"

namespace models::generation {

struct GenerationOutput {
  // Per prompt: the generated tokens without the prompt or padding, ending with the eos id
  // when one was produced (HF fills the rest of the row with pad ids).
  std::vector<std::vector<int64_t>> tokens;
  // Beam search: the returned hypothesis's score, sum log p / length^length_penalty with
  // length = prompt (padded) + generated tokens, as HF's sequences_scores; empty otherwise.
  std::vector<double> scores;
};

// How each step runs the model: model.forward by default; PEFT's prompt methods pass a
// callback that edits the batch first (prompt embeddings, prefix K/V, longer masks), so
// models stay free of peft code.
using ForwardFn = std::function<ModelOutput(const Batch&, const ForwardOptions&)>;

// prompts: token ids per row, unpadded (decoder-only prompts must be non-empty). The model
// runs as it is (call eval() first for deterministic outputs) and without autograd.
GenerationOutput generate(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationConfig& config);
// The same with every model call going through `forward` (config, vocab and architecture still
// come from `model`).
GenerationOutput generate(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                          const GenerationConfig& config, const ForwardFn& forward);

}  // namespace models::generation
