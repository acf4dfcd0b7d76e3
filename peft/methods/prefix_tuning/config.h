// Prefix tuning's config (PEFT's PrefixTuningConfig, tuners/prefix_tuning/config.py).
#pragma once
#include <optional>

#include "peft/methods/prompt_common/config.h"

namespace peft::prefix_tuning {

struct PrefixTuningConfig : prompt::PromptLearningConfig {
  std::optional<int64_t> encoder_hidden_size;  // the projection's hidden width; null: token_dim
  bool prefix_projection = false;              // reparameterise the prefix through an MLP

  PrefixTuningConfig() { peft_type = "PREFIX_TUNING"; }
  void fields(ConfigFields& f) override;
  void validate() const override;
};

}  // namespace peft::prefix_tuning
