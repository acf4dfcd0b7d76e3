// The bottleneck adapter module (see module.h).
#include "peft/methods/bottleneck/module.h"

#include <cmath>

#include "engine/engine.h"

namespace peft::bottleneck {

namespace nn = engine::nn;

namespace {

// torch.nn.init.trunc_normal_(std, a=-2std, b=2std): out-of-range draws are drawn again.
void trunc_normal_(Tensor& w, double std, engine::Generator& gen) {
  engine::NoGradGuard no_grad;
  Tensor t = engine::normal(w.shape(), 0.0, std, engine::DType::f32, gen);
  float* v = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    while (std::abs(v[i]) > 2 * std) v[i] = engine::normal({1}, 0.0, std, engine::DType::f32, gen).item<float>();
  engine::copy_(w, t);
}

}  // namespace

BottleneckModule::BottleneckModule(const BnConfig& c, int64_t hidden, engine::Generator& gen,
                                   const ProjectionFactory& projection)
    : act_(c.non_linearity == "swish" ? "silu" : c.non_linearity),
      scaling_(c.fixed_scaling()),
      parallel_(c.is_parallel),
      ln_before_(c.ln_before),
      ln_after_(c.ln_after),
      residual_before_ln_(c.adapter_residual_before_ln),
      gating_(c.use_gating),
      learned_scaling_(c.learned_scaling()) {
  const int64_t down = c.bottleneck_size(hidden);
  if (ln_before_) register_module("adapter_norm_before", std::make_shared<nn::LayerNorm>(hidden));
  if (projection) {
    register_module("adapter_down", projection(hidden, down, gen));
    register_module("adapter_up", projection(down, hidden, gen));
  } else {
    register_module("adapter_down", std::make_shared<nn::Linear>(hidden, down));
    register_module("adapter_up", std::make_shared<nn::Linear>(down, hidden));
    init_linears(c.init_weights, gen);
  }
  if (learned_scaling_) register_parameter("scaling", engine::ones({1}));
  if (ln_after_) register_module("adapter_norm_after", std::make_shared<nn::LayerNorm>(hidden));
  if (gating_) {
    auto gate = register_module("gate", std::make_shared<nn::Linear>(hidden, 1));
    engine::copy_(gate->weight(), engine::normal({1, hidden}, 0.0, 0.02, engine::DType::f32, gen));  // init_bert_weights
    engine::fill_(gate->param("bias"), 0.0);
  }
  register_module("dropout", std::make_shared<nn::Dropout>(c.dropout, gen.seed() * 7919 + gen.advance(1)));
}

void BottleneckModule::init_linears(const std::string& scheme, engine::Generator& gen) {
  auto down = child_as<nn::Linear>("adapter_down"), up = child_as<nn::Linear>("adapter_up");
  engine::NoGradGuard no_grad;
  if (scheme == "bert") {  // adapter-hub's init_bert_weights
    for (auto& l : {down, up}) engine::copy_(l->weight(), engine::normal(l->weight().shape(), 0.0, 0.02, engine::DType::f32, gen));
  } else if (scheme == "mam_adapter") {
    down->reset_parameters(gen);  // Kaiming-uniform(a=√5), as nn.init.kaiming_uniform_
    engine::fill_(up->weight(), 0.0);
  } else {  // "houlsby"
    for (auto& l : {down, up}) trunc_normal_(l->weight(), 1e-2, gen);
  }
  for (auto& l : {down, up}) engine::fill_(l->param("bias"), 0.0);
}

Tensor BottleneckModule::bottleneck(const Tensor& x) {
  Tensor a = ln_before_ ? call("adapter_norm_before", x) : x;                             // [B,T,C]
  Tensor u = call("adapter_up", nn::activation(act_, call("adapter_down", a)));            // [B,T,C] -> [B,T,r] -> [B,T,C]
  u = learned_scaling_ ? u * param("scaling") : u * scaling_;
  u = call("dropout", u);
  if (gating_) {
    Tensor g = engine::sigmoid(call("gate", x));           // [B,T,1]
    u = u * engine::mean(g, {1}, /*keepdim=*/true);        // × [B,1,1]
  }
  return u;
}

Tensor BottleneckModule::forward(const Tensor& h, const Tensor& input) {
  if (parallel_) {
    engine::check<engine::ValueError>(input.defined(), "[ParallelAdapter] the site passed no FFN input");
    Tensor u = bottleneck(input);
    return h + (ln_after_ ? call("adapter_norm_after", u) : u);
  }
  Tensor u = bottleneck(h);
  if (residual_before_ln_) return ln_after_ ? call("adapter_norm_after", u + h) : u + h;
  return (ln_after_ ? call("adapter_norm_after", u) : u) + h;
}

}  // namespace peft::bottleneck
