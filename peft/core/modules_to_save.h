// PEFT's modules_to_save: a whole module (e.g. the classifier head) trained as a copy per
// adapter, while the original stays frozen. In memory the parameters read
// `classifier.modules_to_save.default.weight`; in the adapter file `classifier.weight`.
#pragma once
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "peft/core/module_dict.h"

namespace peft {

class ModulesToSave : public engine::nn::UnaryModule {
 public:
  explicit ModulesToSave(engine::nn::ModulePtr original);
  std::string type_name() const override { return "ModulesToSaveWrapper"; }
  engine::Tensor forward(const engine::Tensor& x) override;

  engine::nn::ModulePtr original() const { return child("original_module"); }
  // A trainable copy of the original for `adapter`.
  void add_copy(const std::string& adapter);
  void remove_copy(const std::string& adapter);
  bool empty() const { return copies_->children().empty(); }
  engine::nn::Module& copy(const std::string& adapter) const { return *copies_->at<engine::nn::Module>(adapter); }
  // At most one copy is active at a time (PEFT's rule); "" = the original.
  void set_active(const std::string& adapter, bool on);

 private:
  engine::Tensor run(const std::string& adapter, const engine::Tensor& x) const;
  std::shared_ptr<ModuleDict> copies_;
  std::string active_;
};

}  // namespace peft
