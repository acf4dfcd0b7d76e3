// The settings of one generate() call, as HF's GenerationConfig (transformers 4.33 defaults:
// greedy, top_k 50 / top_p 1 / temperature 1 when sampling, length_penalty 1,
// early_stopping false), plus where the special token ids come from.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace models::generation {

// HF's early_stopping: true (stop a batch item as soon as num_beams hypotheses are done),
// false (stop when no running beam can beat the worst finished one at the current length),
// "never" (the same test at max_length when length_penalty > 0).
enum class EarlyStopping { kTrue, kFalse, kNever };

struct GenerationConfig {
  int64_t max_new_tokens = 20;
  bool do_sample = false;
  double temperature = 1.0;  // sampling only; 1 = off
  int64_t top_k = 50;        // sampling only; 0 = off
  double top_p = 1.0;        // sampling only; 1 = off
  uint64_t seed = 0;         // sampling's Philox stream
  int64_t num_beams = 1;
  double length_penalty = 1.0;  // beam score = sum log p / length^length_penalty
  EarlyStopping early_stopping = EarlyStopping::kFalse;
  std::vector<int64_t> eos_token_ids;  // empty: generate max_new_tokens
  std::optional<int64_t> pad_token_id;  // default: the first eos id (HF warns and does the same)
  std::optional<int64_t> decoder_start_token_id;  // encoder-decoder models (T5: pad id 0)

  // The id used to fill finished rows and left-pad prompts.
  int64_t pad_id() const;
};

// Special token ids and defaults for a model folder: generation_config.json when present
// (HF's GenerationConfig.from_pretrained), else config.json (from_model_config). Only the
// fields above are read; a malformed value throws ConfigError naming the field.
GenerationConfig default_generation_config(const nlohmann::json& model_config,
                                           const std::filesystem::path& folder = {});

// Rejects impossible settings (ValueError naming the field): non-positive max_new_tokens,
// temperature, top_k < 0, top_p outside (0, 1], num_beams < 1, sampling with beams.
void validate(const GenerationConfig& config);

}  // namespace models::generation
