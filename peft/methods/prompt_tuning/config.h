// Prompt tuning's config (PEFT's PromptTuningConfig, tuners/prompt_tuning/config.py).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "peft/methods/prompt_common/config.h"

namespace peft::prompt_tuning {

struct PromptTuningConfig : prompt::PromptLearningConfig {
  std::string prompt_tuning_init = "RANDOM";  // "RANDOM" | "TEXT" | "SAMPLE_VOCAB"
  std::optional<std::string> prompt_tuning_init_text;
  std::optional<std::string> tokenizer_name_or_path;  // a tokenizer folder (HF checkpoint files)
  json tokenizer_kwargs = nullptr;                    // accepted, unused (our tokenizers take none)
  // peft.cpp's extension: TEXT from token ids instead of a tokenizer (written only when set).
  std::vector<int64_t> prompt_tuning_init_token_ids;

  PromptTuningConfig() { peft_type = "PROMPT_TUNING"; }
  void fields(ConfigFields& f) override;
  void validate() const override;
};

}  // namespace peft::prompt_tuning
