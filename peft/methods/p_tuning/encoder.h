// P-tuning's prompt encoder (PEFT's PromptEncoder, tuners/p_tuning/model.py): the virtual-token
// table reparameterised by an MLP (Linear, ReLU, Linear, ReLU, Linear at mlp_head.{0,2,4}) or
// by a bidirectional LSTM (lstm_head) followed by mlp_head.{0,2} (Linear, ReLU, Linear).
#pragma once
#include <memory>

#include "peft/methods/p_tuning/config.h"
#include "peft/methods/prompt_common/encoder.h"

namespace peft::p_tuning {

using engine::Tensor;

class PTuningEncoder : public prompt::PromptEncoder {
 public:
  // rows = n·S virtual tokens of width token_dim; hidden = encoder_hidden_size.
  PTuningEncoder(const PromptEncoderConfig& c, int64_t rows, int64_t hidden, engine::Generator& gen);
  std::string type_name() const override { return "PromptEncoder"; }
  Tensor table() const override;  // [rows, token_dim]
  bool reparameterized() const override { return true; }

 private:
  bool lstm_;
};

}  // namespace peft::p_tuning
