// Module state dicts: strict loading that reports every problem at once, and deep copies.
#include <sstream>

#include "engine/autograd/grad_mode.h"
#include "engine/nn/module.h"

namespace engine::nn {

namespace {

// Everything wrong with a state dict, gathered before anything is copied.
struct StateDiff {
  std::vector<std::string> missing, unexpected, mismatched;
  bool empty() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
};

StateDiff diff_state(const std::map<std::string, Tensor>& own, const std::map<std::string, Tensor>& given) {
  StateDiff d;
  for (const auto& [name, t] : own) {
    auto it = given.find(name);
    if (it == given.end()) d.missing.push_back(name + " " + shape_str(t.shape()));
    else if (!it->second.defined() || it->second.shape() != t.shape())
      d.mismatched.push_back(name + ": expected " + shape_str(t.shape()) + ", got " +
                             (it->second.defined() ? shape_str(it->second.shape()) : "undefined"));
  }
  for (const auto& [name, t] : given)
    if (!own.count(name)) d.unexpected.push_back(name + " " + (t.defined() ? shape_str(t.shape()) : ""));
  return d;
}

void append_list(std::ostringstream& os, const char* title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  os << "\n  " << items.size() << " " << title << ":";
  for (const auto& s : items) os << "\n    " << s;
}

}  // namespace

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::map<std::string, Tensor> own = state_dict();
  StateDiff d = diff_state(own, state);
  if (!strict) d.missing.clear(), d.unexpected.clear();
  if (!d.empty()) {
    std::ostringstream os;
    os << "[load_state_dict] " << type_name() << ": the state dict does not match the module";
    append_list(os, "missing key(s) (with expected shape)", d.missing);
    append_list(os, "unexpected key(s)", d.unexpected);
    append_list(os, "shape mismatch(es)", d.mismatched);
    throw KeyError(os.str());
  }
  NoGradGuard no_grad;
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    if (it != state.end() && !it->second.is_same(t)) copy_(t, it->second);  // converts dtype
  }
}

std::map<std::string, Tensor> clone_state(const Module& m) {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : m.state_dict()) out[name] = t.detach().clone();
  return out;
}

}  // namespace engine::nn
