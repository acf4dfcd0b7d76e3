// modules_to_save wrapper (see modules_to_save.h).
#include "peft/core/modules_to_save.h"

#include "engine/core/error.h"
#include "peft/core/sample_routing.h"

namespace peft {

using engine::Tensor;
using engine::nn::UnaryModule;

ModulesToSave::ModulesToSave(engine::nn::ModulePtr original) {
  engine::check<engine::ValueError>(dynamic_cast<UnaryModule*>(original.get()) != nullptr,
                                    "[modules_to_save] ", original->type_name(),
                                    " is not a one-input module and cannot be wrapped");
  register_module("original_module", std::move(original));
  copies_ = register_module("modules_to_save", std::make_shared<ModuleDict>());
}

void ModulesToSave::add_copy(const std::string& adapter) {
  engine::nn::ModulePtr copy = original()->clone();
  copy->requires_grad_(true);
  copies_->add(adapter, copy);
}

void ModulesToSave::remove_copy(const std::string& adapter) {
  copies_->erase(adapter);
  if (active_ == adapter) active_.clear();
}

void ModulesToSave::set_active(const std::string& adapter, bool on) {
  if (on) {
    engine::check<engine::ValueError>(active_.empty() || active_ == adapter,
                                      "[modules_to_save] adapters '", active_, "' and '", adapter,
                                      "' both train a copy of the same module; only one can be active");
    active_ = adapter;
  } else if (active_ == adapter) {
    active_.clear();
  }
}

Tensor ModulesToSave::run(const std::string& adapter, const Tensor& x) const {
  const bool use_copy = !adapter.empty() && adapter != kBaseOnly && copies_->contains(adapter);
  engine::nn::ModulePtr m = use_copy ? copies_->at<engine::nn::Module>(adapter) : original();
  return static_cast<UnaryModule&>(*m).forward(x);
}

Tensor ModulesToSave::forward(const Tensor& x) {
  if (const auto* names = current_sample_adapters())
    return route_by_sample(x, *names, [&](const Tensor& rows, const std::string& name) { return run(name, rows); });
  return run(active_, x);
}

}  // namespace peft
