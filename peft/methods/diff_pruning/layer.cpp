// Diff pruning's phase-1 wrapper (see layer.h).
#include "peft/methods/diff_pruning/layer.h"

#include "engine/engine.h"
#include "peft/methods/diff_pruning/hard_concrete.h"

namespace peft::diff_pruning {

DiffPruningLinear::DiffPruningLinear(engine::nn::ModulePtr base) : TunerLayer(std::move(base)) {
  engine::check<engine::ValueError>(base_linear() != nullptr, "[DIFF_PRUNING] cannot wrap a ", base_layer().type_name());
  w_ = register_module("diff_w", std::make_shared<ParameterDict>());
  log_alpha_ = register_module("diff_log_alpha", std::make_shared<ParameterDict>());
}

void DiffPruningLinear::add_adapter(const std::string& name, double log_alpha_init, uint64_t seed) {
  engine::check<engine::ValueError>(!has_adapter(name), "[DIFF_PRUNING] layer already has adapter '", name, "'");
  const Tensor& w0 = base_linear()->weight();
  w_->add(name, engine::zeros(w0.shape(), w0.dtype()));
  log_alpha_->add(name, engine::full(w0.shape(), log_alpha_init, w0.dtype()));
  gens_.insert_or_assign(name, engine::Generator(seed));
}

void DiffPruningLinear::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  w_->erase(name);
  log_alpha_->erase(name);
  gens_.erase(name);
}

std::vector<std::pair<std::string, Tensor>> DiffPruningLinear::adapter_tensors(const std::string& name) const {
  return {{"diff_w", w_->at(name)}, {"diff_log_alpha", log_alpha_->at(name)}};
}

std::string DiffPruningLinear::merge_refusal(const std::string& name) const {
  (void)name;
  return "diff pruning is still in its L0 phase (the mask is fixed at fix_step; merge after that)";
}

Tensor DiffPruningLinear::eval_delta(const std::string& name) const {
  engine::NoGradGuard no_grad;
  return hard_concrete_gate(log_alpha_->at(name)) * w_->at(name);
}

Tensor DiffPruningLinear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  engine::nn::Linear& base = *base_linear();
  Tensor w = base.weight();  // frozen W0 (base layout)
  for (const std::string& name : adapters) {
    Tensor u;  // training: a fresh uniform draw per forward; eval: the deterministic gate
    if (is_training()) u = engine::rand(w.shape(), engine::DType::f32, gens_.at(name)).to(w.dtype()).to(w.device());
    w = w + hard_concrete_gate(log_alpha_->at(name), u) * w_->at(name);  // W0 + z ⊙ w
  }
  return engine::linear(x, w, base.bias(), base.layout());
}

}  // namespace peft::diff_pruning
