// P-tuning's config (PEFT's PromptEncoderConfig, tuners/p_tuning/config.py).
#pragma once
#include <optional>
#include <string>

#include "peft/methods/prompt_common/config.h"

namespace peft::p_tuning {

struct PromptEncoderConfig : prompt::PromptLearningConfig {
  std::string encoder_reparameterization_type = "MLP";  // "MLP" | "LSTM"
  std::optional<int64_t> encoder_hidden_size;           // null: token_dim (filled when attached)
  int64_t encoder_num_layers = 2;                       // LSTM layers (the MLP always has 3 Linear)
  double encoder_dropout = 0.0;                         // between LSTM layers

  PromptEncoderConfig() { peft_type = "P_TUNING"; }
  void fields(ConfigFields& f) override;
  void validate() const override;
};

}  // namespace peft::p_tuning
