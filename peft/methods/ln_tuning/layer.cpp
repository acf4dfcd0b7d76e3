// LN tuning layers (see layer.h and README.md).
#include "peft/methods/ln_tuning/layer.h"

#include "engine/engine.h"

namespace peft::ln_tuning {

namespace nn = engine::nn;

LnTuningLayer::LnTuningLayer(nn::ModulePtr base) : TunerLayer(std::move(base)) {
  copies_ = register_module("ln_tuning_layers", std::make_shared<ModuleDict>());
}

void LnTuningLayer::add_adapter(const std::string& name) {
  engine::check<engine::ValueError>(!has_adapter(name), "[LN_TUNING] layer already has adapter '", name, "'");
  nn::ModulePtr clone = base_layer().clone();  // ValueError naming the type when not clonable
  clone->requires_grad_(true);
  copies_->add(name, clone);
}

void LnTuningLayer::remove_adapter(const std::string& name) {
  if (has_adapter(name)) copies_->erase(name);
}

nn::UnaryModule& LnTuningLayer::copy(const std::string& name) const {
  return static_cast<nn::UnaryModule&>(*copies_->at<nn::Module>(name));
}

std::vector<std::pair<std::string, Tensor>> LnTuningLayer::adapter_tensors(const std::string& name) const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [pname, t] : copy(name).named_parameters()) out.emplace_back("ln_tuning_layers." + pname, t);
  return out;
}

std::string LnTuningLayer::merge_refusal(const std::string& name) const {
  for (const auto& [other, _] : copies_->children())
    if (other != name && is_merged(other))
      return "LN tuning merges one adapter at a time and '" + other + "' is merged; unmerge it first";
  return "";
}

Tensor LnTuningLayer::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  engine::check<engine::ValueError>(adapters.size() == 1, "[LN_TUNING] ", adapters.size(),
                                    " adapters are active, but LN tuning runs one adapter at a time");
  return copy(adapters.front()).forward(x);
}

void LnTuningLayer::swap_with_base(const std::string& name) {
  engine::NoGradGuard no_grad;
  auto base = base_layer().named_parameters();
  auto tuned = copy(name).named_parameters();
  for (size_t i = 0; i < base.size(); ++i) {
    Tensor saved = base[i].second.clone();
    engine::copy_(base[i].second, tuned[i].second);
    engine::copy_(tuned[i].second, saved);
  }
}

}  // namespace peft::ln_tuning
