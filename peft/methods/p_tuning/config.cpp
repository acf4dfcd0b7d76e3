// PromptEncoderConfig fields and validation.
#include "peft/methods/p_tuning/config.h"

namespace peft::p_tuning {

void PromptEncoderConfig::fields(ConfigFields& f) {
  PromptLearningConfig::fields(f);
  f("encoder_reparameterization_type", encoder_reparameterization_type);
  f("encoder_hidden_size", encoder_hidden_size);
  f("encoder_num_layers", encoder_num_layers);
  f("encoder_dropout", encoder_dropout);
}

void PromptEncoderConfig::validate() const {
  PromptLearningConfig::validate();
  if (encoder_reparameterization_type != "MLP" && encoder_reparameterization_type != "LSTM")
    fail("encoder_reparameterization_type", "must be MLP or LSTM, got '" + encoder_reparameterization_type + "'");
  if (encoder_hidden_size && *encoder_hidden_size <= 0)
    fail("encoder_hidden_size", "must be positive, got " + std::to_string(*encoder_hidden_size));
  if (encoder_num_layers <= 0) fail("encoder_num_layers", "must be positive, got " + std::to_string(encoder_num_layers));
  if (encoder_dropout < 0 || encoder_dropout >= 1)
    fail("encoder_dropout", "must be in [0, 1), got " + std::to_string(encoder_dropout));
}

}  // namespace peft::p_tuning
