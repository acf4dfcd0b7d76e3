// One bottleneck adapter at one site (adapter-hub's `Adapter` / `ParallelAdapter`,
// methods/modeling.py), as a module whose parameter names are adapter-hub's:
// adapter_norm_before, adapter_down, adapter_up, adapter_norm_after, gate, scaling.
//
//   sequential (Houlsby, Pfeiffer):  a = LN_before?(h)
//                                    u = gate(h) · drop(s · up(f(down(a))))
//                                    out = LN_after?(u) + h   (adapter_residual_before_ln: LN_after?(u + h))
//   parallel (He et al.):            a = LN_before?(x),  x = the FFN's input
//                                    out = h + LN_after?(gate(x) · drop(s · up(f(down(a)))))
//   gate(z) = mean_t σ(z_t·w_g + b_g), one scalar per sequence ([B,1,1]; padding included,
//   as adapter-hub).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "engine/nn/module.h"
#include "peft/methods/bottleneck/config.h"

namespace peft::bottleneck {

using engine::Tensor;

// The down / up projection: a Linear (the default) or Compacter's PHM layer. `in` → `out`.
using ProjectionFactory = std::function<std::shared_ptr<engine::nn::UnaryModule>(int64_t in, int64_t out,
                                                                                 engine::Generator& gen)>;

class BottleneckModule : public engine::nn::Module {
 public:
  // `hidden` = the site's width; a null `projection` makes Linears initialised per
  // config.init_weights ("bert": N(0, 0.02); "mam_adapter": Kaiming down, zero up, so the
  // adapter starts as the identity; "houlsby": truncated N(0, 0.01)), biases zero.
  BottleneckModule(const BnConfig& config, int64_t hidden, engine::Generator& gen,
                   const ProjectionFactory& projection = nullptr);
  std::string type_name() const override { return parallel_ ? "ParallelAdapter" : "Adapter"; }

  // h: the site's output [B,T,C]; input: the FFN's input [B,T,C] (parallel only). Returns
  // the new site output [B,T,C].
  Tensor forward(const Tensor& h, const Tensor& input);
  bool parallel() const { return parallel_; }

 private:
  Tensor bottleneck(const Tensor& x);  // drop(s · up(f(down(LN_before?(x))))), gated
  void init_linears(const std::string& scheme, engine::Generator& gen);

  std::string act_;
  double scaling_;
  bool parallel_, ln_before_, ln_after_, residual_before_ln_, gating_, learned_scaling_;
};

}  // namespace peft::bottleneck
