// PrefixTuningConfig fields and validation.
#include "peft/methods/prefix_tuning/config.h"

namespace peft::prefix_tuning {

void PrefixTuningConfig::fields(ConfigFields& f) {
  PromptLearningConfig::fields(f);
  f("encoder_hidden_size", encoder_hidden_size);
  f("prefix_projection", prefix_projection);
}

void PrefixTuningConfig::validate() const {
  PromptLearningConfig::validate();
  if (encoder_hidden_size && *encoder_hidden_size <= 0)
    fail("encoder_hidden_size", "must be positive, got " + std::to_string(*encoder_hidden_size));
  if (token_dim && num_attention_heads && *token_dim % *num_attention_heads != 0)
    fail("token_dim", std::to_string(*token_dim) + " is not divisible by num_attention_heads " +
                          std::to_string(*num_attention_heads));
}

}  // namespace peft::prefix_tuning
