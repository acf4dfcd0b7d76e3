// Adapter: file tensors and the modules_to_save copies every method may carry.
#include "peft/core/adapter.h"

#include <algorithm>

#include "engine/engine.h"

namespace peft {

namespace {

// PEFT's rule (utils/other.py::_set_trainable): a module is saved when its name ends with one
// of the entries (a plain string suffix).
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

NamedTensors Adapter::file_tensors() const {
  NamedTensors out = method_tensors();
  for (const auto& [path, wrapper] : saved_modules_)
    for (const auto& [pname, t] : wrapper->copy(name_).named_parameters())
      out.emplace_back(saved_module_prefix() + path + "." + pname, t);
  return out;
}

NamedTensors Adapter::trainable_tensors() const {
  NamedTensors out;
  for (auto& [key, t] : file_tensors())
    if (t.requires_grad()) out.emplace_back(key, t);
  return out;
}

void Adapter::attach_modules_to_save(models::PretrainedModel& model) {
  std::vector<std::string> wanted = config_->modules_to_save.value_or(std::vector<std::string>{});
  if (config_->task_type == "SEQ_CLS" || config_->task_type == "TOKEN_CLS")  // PEFT trains the head automatically
    for (const char* head : {"classifier", "score"})
      if (std::find(wanted.begin(), wanted.end(), head) == wanted.end()) wanted.push_back(head);
  if (wanted.empty()) return;
  std::vector<std::string> paths;
  for (const auto& [path, module] : model.named_modules()) {
    if (path.empty()) continue;
    bool inside = false;  // a module inside one already chosen (or inside a PEFT wrapper)
    for (const auto& p : paths) inside |= path.compare(0, p.size() + 1, p + ".") == 0;
    if (inside) continue;
    for (const auto& key : wanted)
      if (ends_with(path, key)) {
        paths.push_back(path);
        break;
      }
  }
  for (const std::string& path : paths) {
    engine::nn::ModulePtr module = model.get(path);
    auto wrapper = std::dynamic_pointer_cast<ModulesToSave>(module);
    if (!wrapper) {
      wrapper = std::make_shared<ModulesToSave>(module);
      model.replace_module(path, wrapper);
    }
    wrapper->add_copy(name_);
    saved_modules_.emplace_back(path, wrapper);
  }
}

void Adapter::detach_modules_to_save(models::PretrainedModel& model) {
  for (auto& [path, wrapper] : saved_modules_) {
    wrapper->remove_copy(name_);
    if (wrapper->empty()) model.replace_module(path, wrapper->original());
  }
  saved_modules_.clear();
}

void Adapter::set_modules_to_save_active(bool on) {
  for (auto& [path, wrapper] : saved_modules_) wrapper->set_active(name_, on);
}

}  // namespace peft
