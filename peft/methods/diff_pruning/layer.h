// Diff pruning's phase-1 wrapper on a Linear / Conv1D: y = x · (W0 + z ⊙ w) + b, with w and
// log α per entry of W (the base layout) and z hard-concrete gates — sampled in training
// mode, the test-time gate in eval mode. Dense in w and log α on purpose: the L0 phase has
// to see every entry before the mask is fixed (the adapter then drops this wrapper).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::diff_pruning {

class DiffPruningLinear : public TunerLayer {
 public:
  explicit DiffPruningLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "DiffPruningLinear"; }

  // w = 0 (so δ = 0: the base output at the start), log α = log_alpha_init. `seed` seeds
  // this layer's gate sampling.
  void add_adapter(const std::string& name, double log_alpha_init, uint64_t seed);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return w_->contains(name); }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  std::string merge_refusal(const std::string& name) const override;

  Tensor& diff_w(const std::string& name) { return w_->at(name); }
  Tensor& log_alpha(const std::string& name) { return log_alpha_->at(name); }
  // δ with the test-time gates (base layout), no autograd.
  Tensor eval_delta(const std::string& name) const;

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;

 private:
  std::shared_ptr<ParameterDict> w_, log_alpha_;
  std::map<std::string, engine::Generator> gens_;
};

}  // namespace peft::diff_pruning
