// Module: registration, dotted-name lookup, in-place replacement, traversal in torch's order,
// training mode, freezing and hook sites. State-dict loading lives in module_state.cpp.
#include "engine/nn/module.h"

#include <regex>
#include <set>
#include <sstream>

#include "engine/autograd/grad_mask.h"
#include "engine/autograd/grad_mode.h"

namespace engine::nn {

namespace {

// torch forbids '.' in a direct name (it would be ambiguous in dotted paths) and empty names.
void check_name(const std::string& name, const char* what) {
  ENGINE_CHECK(ValueError, !name.empty() && name.find('.') == std::string::npos, "[Module] invalid ", what,
                    " name '", name, "' (must be non-empty and contain no '.')");
}

template <typename V>
bool contains_name(const std::vector<std::pair<std::string, V>>& items, const std::string& name) {
  for (const auto& [n, v] : items)
    if (n == name) return true;
  return false;
}

template <typename V>
std::string list_names(const std::vector<std::pair<std::string, V>>& items) {
  std::string out;
  for (const auto& [n, v] : items) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Splits "a.b.c" into ("a.b", "c"); ("", "c") for a direct name.
std::pair<std::string, std::string> split_last(const std::string& dotted) {
  size_t dot = dotted.rfind('.');
  if (dot == std::string::npos) return {"", dotted};
  return {dotted.substr(0, dot), dotted.substr(dot + 1)};
}

}  // namespace

// ---- construction

Tensor& Module::register_parameter(const std::string& name, Tensor value, bool trainable) {
  check_name(name, "parameter");
  ENGINE_CHECK(KeyError, !contains_name(params_, name) && !contains_name(buffers_, name) &&
                      !contains_name(children_, name),
                  "[Module] ", type_name(), " already has a member named '", name, "'");
  ENGINE_CHECK(ValueError, value.defined(), "[Module] parameter '", name, "' is undefined");
  if (!value.is_leaf()) value = value.detach();  // a parameter is always a leaf
  value.requires_grad_(trainable && is_floating(value.dtype()));
  params_.emplace_back(name, std::move(value));
  return params_.back().second;  // valid until the next registration on this module
}

Tensor& Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  check_name(name, "buffer");
  ENGINE_CHECK(KeyError, !contains_name(params_, name) && !contains_name(buffers_, name) &&
                      !contains_name(children_, name),
                  "[Module] ", type_name(), " already has a member named '", name, "'");
  buffers_.emplace_back(name, value.defined() ? value.detach() : value);
  buffer_persistent_.push_back(persistent);
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, ModulePtr child) {
  check_name(name, "module");
  ENGINE_CHECK(ValueError, child != nullptr, "[Module] child '", name, "' is null");
  ENGINE_CHECK(KeyError, !contains_name(params_, name) && !contains_name(buffers_, name) &&
                      !contains_name(children_, name),
                  "[Module] ", type_name(), " already has a member named '", name, "'");
  children_.emplace_back(name, std::move(child));
}

// ---- lookup

Tensor& Module::param(const std::string& name) {
  for (auto& [n, t] : params_)
    if (n == name) return t;
  fail<KeyError>("[Module] ", type_name(), " has no parameter '", name,
                 "'; parameters: ", list_names(params_));
}

bool Module::has_param(const std::string& name) const { return contains_name(params_, name); }

Tensor& Module::buffer(const std::string& name) {
  for (auto& [n, t] : buffers_)
    if (n == name) return t;
  fail<KeyError>("[Module] ", type_name(), " has no buffer '", name,
                 "'; buffers: ", list_names(buffers_));
}

ModulePtr Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  fail<KeyError>("[Module] ", type_name(), " has no child '", name,
                 "'; children: ", list_names(children_));
}

ModulePtr Module::find(const std::string& dotted) const {
  const Module* cur = this;
  ModulePtr found;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    found = nullptr;
    for (const auto& [n, m] : cur->children_)
      if (n == part) found = m;
    if (!found) return nullptr;
    if (dot == std::string::npos) return found;
    cur = found.get();
    start = dot + 1;
  }
  return nullptr;
}

ModulePtr Module::get(const std::string& dotted) const {
  ModulePtr m = find(dotted);
  if (m) return m;
  std::string names;
  for (const auto& [n, mod] : named_modules())
    if (!n.empty()) names += (names.empty() ? "" : ", ") + n;
  fail<KeyError>("[Module] ", type_name(), " has no submodule '", dotted, "'; modules: ",
                 names.empty() ? "(none)" : names);
}

ModulePtr Module::replace_module(const std::string& dotted, ModulePtr replacement) {
  ENGINE_CHECK(ValueError, replacement != nullptr, "[replace_module] replacement for '", dotted, "' is null");
  auto [parent_path, name] = split_last(dotted);
  Module* parent = parent_path.empty() ? this : get(parent_path).get();
  for (auto& [n, m] : parent->children_) {
    if (n != name) continue;
    ModulePtr old = std::move(m);
    m = std::move(replacement);  // same slot: registration order (and so names) unchanged
    return old;
  }
  get(dotted);  // throws the KeyError listing every module
  return nullptr;
}

ModulePtr Module::remove_module(const std::string& name) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != name) continue;
    ModulePtr old = std::move(it->second);
    children_.erase(it);
    return old;
  }
  child(name);  // throws the KeyError listing the children
  return nullptr;
}

Tensor Module::remove_parameter(const std::string& name) {
  for (auto it = params_.begin(); it != params_.end(); ++it) {
    if (it->first != name) continue;
    Tensor old = std::move(it->second);
    params_.erase(it);
    return old;
  }
  fail<KeyError>("[Module] ", type_name(), " has no parameter '", name, "'");
}

ModulePtr Module::clone() const {
  fail<ValueError>("[Module] ", type_name(), " cannot be copied (it does not implement clone())");
}

void Module::copy_tensors_into(Module& copy) const {
  NoGradGuard no_grad;
  for (const auto& [name, t] : params_) {
    Tensor& dst = copy.param(name);
    dst = t.detach().clone();
    dst.requires_grad_(t.requires_grad());
  }
  for (const auto& [name, t] : buffers_) copy.buffer(name) = t.detach().clone();
}

Tensor Module::call(const std::string& child_name, const Tensor& x) const {
  ModulePtr m = child(child_name);
  auto* unary = dynamic_cast<UnaryModule*>(m.get());
  ENGINE_CHECK(ValueError, unary != nullptr, "[Module] child '", child_name, "' (", m->type_name(),
                    ") of ", type_name(), " is not a one-input module");
  return unary->forward(x);
}

// ---- traversal

namespace {

// Depth first in registration order; `seen` drops modules already visited (torch's
// remove_duplicate), so a shared submodule is listed under its first name only.
void collect_modules(const ModulePtr& m, const std::string& prefix, std::set<const Module*>& seen,
                     std::vector<std::pair<std::string, ModulePtr>>& out) {
  if (!seen.insert(m.get()).second) return;
  out.emplace_back(prefix, m);
  for (const auto& [n, c] : m->children()) collect_modules(c, join(prefix, n), seen, out);
}

}  // namespace

std::vector<std::pair<std::string, ModulePtr>> Module::named_modules() const {
  std::vector<std::pair<std::string, ModulePtr>> out;
  std::set<const Module*> seen{this};
  // `this` may not be owned by a shared_ptr (a module on the stack), in which case it is
  // listed through an aliasing pointer that owns nothing.
  ModulePtr self = std::const_pointer_cast<Module>(weak_from_this().lock());
  out.emplace_back("", self ? self : ModulePtr(ModulePtr(), const_cast<Module*>(this)));
  for (const auto& [n, c] : children_) collect_modules(c, n, seen, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::set<const TensorImpl*> seen;
  for (const auto& [prefix, m] : named_modules())
    for (const auto& [n, t] : m->params_)
      if (seen.insert(t.impl()).second) out.emplace_back(join(prefix, n), t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::set<const TensorImpl*> seen;
  for (const auto& [prefix, m] : named_modules())
    for (const auto& [n, t] : m->buffers_)
      if (t.defined() && seen.insert(t.impl()).second) out.emplace_back(join(prefix, n), t);
  return out;
}

void Module::collect_state(const std::string& prefix, std::map<std::string, Tensor>& out) const {
  for (const auto& [n, t] : params_) out[join(prefix, n)] = t;
  for (size_t i = 0; i < buffers_.size(); ++i)
    if (buffer_persistent_[i] && buffers_[i].second.defined())
      out[join(prefix, buffers_[i].first)] = buffers_[i].second;
  // No de-duplication: like torch's state_dict, a tied tensor appears under every name.
  for (const auto& [n, c] : children_) c->collect_state(join(prefix, n), out);
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  collect_state("", out);
  return out;
}

// ---- training mode and freezing

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::requires_grad_(bool on) {
  for (auto& [n, t] : named_parameters())
    if (is_floating(t.dtype())) t.requires_grad_(on);
}

int64_t Module::set_requires_grad(const std::string& regex, bool on) {
  std::regex re;
  try {
    re = std::regex(regex);
  } catch (const std::regex_error& e) {
    fail<ValueError>("[set_requires_grad] invalid regex '", regex, "': ", e.what());
  }
  int64_t matched = 0;
  for (auto& [n, t] : named_parameters()) {
    if (!std::regex_search(n, re) || !is_floating(t.dtype())) continue;
    t.requires_grad_(on);
    ++matched;
  }
  return matched;
}

// A masked parameter counts only its trainable entries (the size of its compact gradient).
int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) {
    if (!trainable_only) n += t.numel();
    else if (t.requires_grad()) n += shape_numel(compact_shape(t));
  }
  return n;
}

// ---- hook sites

int64_t Module::add_hook(const std::string& site, SiteHook hook) {
  ENGINE_CHECK(ValueError, bool(hook), "[Module] empty hook for site '", site, "'");
  hooks_[site].emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

void Module::remove_hook(const std::string& site, int64_t id) {
  auto it = hooks_.find(site);
  if (it != hooks_.end())
    for (auto h = it->second.begin(); h != it->second.end(); ++h)
      if (h->first == id) {
        it->second.erase(h);
        return;
      }
  ENGINE_CHECK(KeyError, false, "[Module] ", type_name(), " has no hook ", id, " at site '", site, "'");
}

void Module::clear_hooks(const std::string& site) { hooks_.erase(site); }

bool Module::has_hooks(const std::string& site) const {
  auto it = hooks_.find(site);
  return it != hooks_.end() && !it->second.empty();
}

Tensor Module::site(const std::string& site, const Tensor& output, const Tensor& input) const {
  auto it = hooks_.find(site);
  if (it == hooks_.end()) return output;
  Tensor out = output;
  for (const auto& [id, hook] : it->second) out = hook(out, input);
  return out;
}

}  // namespace engine::nn
