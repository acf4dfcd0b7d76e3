// Containers keyed by adapter name, so parameter names read like PEFT's in-memory names:
// `query.lora_A.default.weight` (a ModuleDict of Linear), `query.lora_E.default` (a
// ParameterDict), `classifier.modules_to_save.default.weight`.
#pragma once
#include <string>

#include "engine/nn/module.h"

namespace peft {

class ModuleDict : public engine::nn::Module {
 public:
  std::string type_name() const override { return "ModuleDict"; }
  template <typename M>
  std::shared_ptr<M> add(const std::string& key, std::shared_ptr<M> m) {
    return register_module(key, std::move(m));
  }
  template <typename M>
  std::shared_ptr<M> at(const std::string& key) const { return child_as<M>(key); }
  bool contains(const std::string& key) const {
    for (const auto& [name, _] : children())
      if (name == key) return true;
    return false;
  }
  void erase(const std::string& key) { remove_module(key); }
};

class ParameterDict : public engine::nn::Module {
 public:
  std::string type_name() const override { return "ParameterDict"; }
  engine::Tensor& add(const std::string& key, engine::Tensor value, bool trainable = true) {
    return register_parameter(key, std::move(value), trainable);
  }
  engine::Tensor& at(const std::string& key) { return param(key); }
  const engine::Tensor& at(const std::string& key) const { return const_cast<ParameterDict*>(this)->param(key); }
  bool contains(const std::string& key) const { return has_param(key); }
  void erase(const std::string& key) { remove_parameter(key); }
};

}  // namespace peft
