// BidirectionalLstm (see lstm.h): torch's LSTM recurrence,
//   i, f, g, o = σ, σ, tanh, σ of (x W_ih^T + b_ih + h W_hh^T + b_hh) split in four,
//   c' = f·c + i·g,   h' = o·tanh(c').
#include "peft/methods/p_tuning/lstm.h"

#include <cmath>

#include "engine/engine.h"

namespace peft::p_tuning {

BidirectionalLstm::BidirectionalLstm(int64_t input_size, int64_t hidden_size, int64_t num_layers, double dropout,
                                     engine::Generator& gen)
    : hidden_(hidden_size), layers_(num_layers), dropout_(dropout) {
  const double bound = 1.0 / std::sqrt(double(hidden_size));
  for (int64_t l = 0; l < num_layers; ++l) {
    const int64_t in = l == 0 ? input_size : 2 * hidden_size;
    for (const std::string dir : {"", "_reverse"}) {
      const std::string s = "_l" + std::to_string(l) + dir;
      register_parameter("weight_ih" + s, engine::uniform({4 * hidden_size, in}, -bound, bound, engine::DType::f32, gen));
      register_parameter("weight_hh" + s, engine::uniform({4 * hidden_size, hidden_size}, -bound, bound, engine::DType::f32, gen));
      register_parameter("bias_ih" + s, engine::uniform({4 * hidden_size}, -bound, bound, engine::DType::f32, gen));
      register_parameter("bias_hh" + s, engine::uniform({4 * hidden_size}, -bound, bound, engine::DType::f32, gen));
    }
  }
}

Tensor BidirectionalLstm::run_direction(const Tensor& x, const std::string& suffix, bool reverse) const {
  auto& self = const_cast<BidirectionalLstm&>(*this);  // param() lookups only
  const int64_t B = x.size(0), T = x.size(1), H = hidden_;
  const Tensor gates_x = engine::linear(x, self.param("weight_ih" + suffix), self.param("bias_ih" + suffix));  // [B,T,4H]
  const Tensor& w_hh = self.param("weight_hh" + suffix);
  const Tensor& b_hh = self.param("bias_hh" + suffix);
  Tensor h = engine::zeros({B, H}, x.dtype(), x.device()), c = engine::zeros({B, H}, x.dtype(), x.device());
  std::vector<Tensor> outputs(static_cast<size_t>(T));
  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = reverse ? T - 1 - step : step;
    const Tensor gates = gates_x.select(1, t) + engine::linear(h, w_hh, b_hh);  // [B,4H]
    const std::vector<Tensor> ifgo = engine::chunk(gates, 4, 1);               // 4 × [B,H]
    c = engine::sigmoid(ifgo[1]) * c + engine::sigmoid(ifgo[0]) * engine::tanh(ifgo[2]);
    h = engine::sigmoid(ifgo[3]) * engine::tanh(c);
    outputs[size_t(t)] = h;
  }
  return engine::stack(outputs, 1);  // [B,T,H]
}

Tensor BidirectionalLstm::forward(const Tensor& x) const {
  Tensor h = x;  // [B,T,in]
  for (int64_t l = 0; l < layers_; ++l) {
    if (l > 0 && dropout_ > 0) h = engine::dropout(h, dropout_, is_training());  // between layers only, as torch
    const std::string s = "_l" + std::to_string(l);
    h = engine::concat({run_direction(h, s, false), run_direction(h, s + "_reverse", true)}, 2);  // [B,T,2H]
  }
  return h;
}

}  // namespace peft::p_tuning
