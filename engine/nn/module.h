// Module: a tree of named children and parameters whose dotted names are exactly PyTorch's
// `named_parameters()` names (`encoder.layer.0.attention.self.query.weight`), so HF
// checkpoints, PEFT target names and adapter keys line up with Python's.
//
// Children are looked up by name when called (`call("query", x)`), so PEFT can replace any
// child in place (`replace_module("encoder.layer.0.attention.self.query", lora)`) and the
// parent keeps working. Models expose named *sites* (after attention, after the FFN, ...)
// where methods attach hooks without the model knowing about them.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace engine::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

// A hook at a site: gets the site's output and its input (e.g. the FFN's input for a
// parallel adapter; may be undefined) and returns the (possibly changed) output.
using SiteHook = std::function<Tensor(const Tensor& output, const Tensor& input)>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;
  // A short type name ("Linear", "BertSelfAttention", "LoraLinear"), used by PEFT's
  // matching rules and by printing.
  virtual std::string type_name() const = 0;

  // ---- construction (the returned references stay valid until the next registration)
  Tensor& register_parameter(const std::string& name, Tensor value, bool trainable = true);
  // Buffers are tensors that are not parameters (never trained); persistent ones appear in
  // the state dict.
  Tensor& register_buffer(const std::string& name, Tensor value, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

  // ---- lookup (dotted names relative to this module)
  Tensor& param(const std::string& name);           // a direct parameter of this module
  bool has_param(const std::string& name) const;
  Tensor& buffer(const std::string& name);          // a direct buffer of this module
  ModulePtr child(const std::string& name) const;   // a direct child (KeyError listing children)
  ModulePtr find(const std::string& dotted) const;  // any descendant, or null
  ModulePtr get(const std::string& dotted) const;   // any descendant (KeyError if absent)
  template <typename M>
  std::shared_ptr<M> child_as(const std::string& name) const {
    return std::dynamic_pointer_cast<M>(child(name));
  }
  // Replaces the descendant at `dotted` (its parent keeps the name). Returns the old one.
  ModulePtr replace_module(const std::string& dotted, ModulePtr replacement);
  // Removes a direct child / parameter (PEFT's delete_adapter). KeyError when absent.
  ModulePtr remove_module(const std::string& name);
  Tensor remove_parameter(const std::string& name);

  // A deep copy: same structure, parameters and buffers copied (requires_grad kept), hooks not
  // copied. PEFT's modules_to_save and LN tuning train copies of a layer. The standard layers
  // implement it; other modules throw ValueError naming their type.
  virtual ModulePtr clone() const;

  // Calls a child that is a UnaryModule (Linear, Embedding, norms, dropout, wrappers).
  Tensor call(const std::string& child_name, const Tensor& x) const;

  // ---- traversal (order of registration, depth first, like torch)
  // Each tensor is listed once under its first name (tied weights appear once).
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::pair<std::string, ModulePtr>> named_modules() const;  // "" = this one
  const std::vector<std::pair<std::string, ModulePtr>>& children() const { return children_; }
  const std::vector<std::pair<std::string, Tensor>>& own_parameters() const { return params_; }

  // ---- state: parameters and persistent buffers by dotted name (tied names all listed)
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in place (converting dtype). strict: every missing key (with its expected
  // shape), every unexpected key and every shape mismatch are reported in one KeyError.
  // Not strict: missing and unexpected keys are ignored, shape mismatches still throw (torch).
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // ---- training mode and freezing
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void requires_grad_(bool on);  // every parameter of the subtree
  // Sets requires_grad on parameters whose dotted name matches `regex` (std::regex_search).
  int64_t set_requires_grad(const std::string& regex, bool on);
  int64_t num_parameters(bool trainable_only = false) const;

  // ---- hook sites
  // Returns an id for remove_hook, so several methods can share a site and leave one by one.
  int64_t add_hook(const std::string& site, SiteHook hook);
  void remove_hook(const std::string& site, int64_t id);  // KeyError when absent
  void clear_hooks(const std::string& site);
  bool has_hooks(const std::string& site) const;
  // Runs the hooks attached at `site` on this module (in attachment order).
  Tensor site(const std::string& site, const Tensor& output, const Tensor& input = {}) const;

 protected:
  void add_child(const std::string& name, ModulePtr child);
  // For clone(): copies this module's own parameters and buffers into `copy` (same names).
  void copy_tensors_into(Module& copy) const;

 private:
  void collect_state(const std::string& prefix, std::map<std::string, Tensor>& out) const;

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<bool> buffer_persistent_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  std::map<std::string, std::vector<std::pair<int64_t, SiteHook>>> hooks_;  // (id, hook) per site
  int64_t next_hook_id_ = 0;
  bool training_ = true;
};

// A module with one tensor in, one tensor out: what `call` invokes and what PEFT wraps.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
};

// Copies every parameter into a fresh tensor (used by merge-and-unload and tests).
std::map<std::string, Tensor> clone_state(const Module& m);

}  // namespace engine::nn
