// PTuningEncoder (see encoder.h).
#include "peft/methods/p_tuning/encoder.h"

#include "engine/engine.h"
#include "peft/methods/p_tuning/lstm.h"

namespace peft::p_tuning {

PTuningEncoder::PTuningEncoder(const PromptEncoderConfig& c, int64_t rows, int64_t hidden, engine::Generator& gen)
    : PromptEncoder(rows, c.dim(), gen), lstm_(c.encoder_reparameterization_type == "LSTM") {
  const int64_t D = c.dim();
  if (lstm_) {
    register_module("lstm_head", std::make_shared<BidirectionalLstm>(D, hidden, c.encoder_num_layers, c.encoder_dropout, gen));
    register_module("mlp_head", std::make_shared<prompt::MlpHead>(std::vector<int64_t>{2 * hidden, 2 * hidden, D}, "relu", gen));
  } else {
    register_module("mlp_head", std::make_shared<prompt::MlpHead>(std::vector<int64_t>{D, hidden, hidden, D}, "relu", gen));
  }
}

Tensor PTuningEncoder::table() const {
  Tensor h = embedding().weight();  // [rows, D]
  if (lstm_)  // the virtual tokens form one sequence: [1, rows, D] -> [1, rows, 2·hidden]
    h = child_as<BidirectionalLstm>("lstm_head")->forward(h.unsqueeze(0)).select(0, 0);
  return child_as<prompt::MlpHead>("mlp_head")->forward(h);  // [rows, D]
}

}  // namespace peft::p_tuning
