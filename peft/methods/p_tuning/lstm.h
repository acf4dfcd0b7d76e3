// torch.nn.LSTM(batch_first=True, bidirectional=True) as P-tuning's LSTM encoder uses it:
// parameters named as torch's (weight_ih_l0, weight_hh_l0_reverse, bias_ih_l1, ...), gates in
// torch's order (input, forget, cell, output), dropout between layers in training mode.
// Built from differentiable ops, one time step at a time: the sequences are a few virtual
// tokens long, so clarity wins over a fused kernel.
#pragma once
#include <string>

#include "engine/nn/module.h"

namespace peft::p_tuning {

using engine::Tensor;

class BidirectionalLstm : public engine::nn::Module {
 public:
  // torch's init: every parameter U(-1/√hidden, 1/√hidden).
  BidirectionalLstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, double dropout, engine::Generator& gen);
  std::string type_name() const override { return "LSTM"; }
  // x [B,T,in] -> [B,T,2·hidden] (forward and backward directions' hidden states side by side).
  Tensor forward(const Tensor& x) const;

 private:
  Tensor run_direction(const Tensor& x, const std::string& suffix, bool reverse) const;  // [B,T,hidden]
  int64_t hidden_, layers_;
  double dropout_;
};

}  // namespace peft::p_tuning
