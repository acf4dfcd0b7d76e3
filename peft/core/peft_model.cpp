// PeftModel: adapter bookkeeping, forward with prompts / per-sample routing, merging.
#include "peft/core/peft_model.h"

#include <algorithm>
#include <clocale>
#include <cstdio>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "engine/nn/module_device.h"
#include "peft/core/modules_to_save.h"
#include "peft/core/registry.h"
#include "peft/core/sample_routing.h"
#include "peft/core/tuner_layer.h"

namespace peft {

using engine::KeyError;
using engine::ValueError;

PeftModel::PeftModel(models::ModelPtr base) : base_(std::move(base)) {
  engine::check<ValueError>(base_ != nullptr, "[PeftModel] base model is null");
  base_->requires_grad_(false);
}

// ---- adapters

Adapter& PeftModel::add_adapter(const std::string& name, std::shared_ptr<PeftConfig> config, uint64_t seed) {
  engine::check<ValueError>(!name.empty() && name.find('.') == std::string::npos && name != kBaseOnly,
                            "[PeftModel] invalid adapter name '", name, "'");
  engine::check<ValueError>(!has_adapter(name), "[PeftModel] adapter '", name, "' already exists");
  engine::check<ValueError>(config != nullptr, "[PeftModel] adapter '", name, "' has no config");
  config->validate();
  std::unique_ptr<Adapter> adapter = method_by_type(config->peft_type).make_adapter(name, config);
  // Methods attach on the host, exactly as on a CPU model (same random draws, and the
  // decompositions some inits run need host memory); a model on a GPU is brought to the host
  // for the attach and then moved back with the new adapter's tensors (one round trip per
  // added adapter, nothing per step).
  const engine::Device device = engine::nn::module_device(*base_);
  if (!device.is_cpu()) engine::nn::module_to(*base_, engine::Device::cpu());
  try {
    adapter->attach(*base_, seed);
  } catch (...) {
    if (!device.is_cpu()) engine::nn::module_to(*base_, device);
    throw;
  }
  if (!device.is_cpu()) {
    engine::nn::module_to(*base_, device);
    std::vector<Tensor> owned;  // tensors an adapter keeps outside the model (prompt tables, shared rules)
    for (const auto& [key, t] : adapter->file_tensors()) owned.push_back(t);
    for (const auto& [key, t] : adapter->trainable_tensors()) owned.push_back(t);
    engine::nn::tensors_to(owned, device, "add_adapter");
  }
  adapters_.push_back(std::move(adapter));
  if (active_.empty()) active_ = {name};
  apply_active();
  return *adapters_.back();
}

Adapter& PeftModel::load_adapter(const std::filesystem::path& dir, const std::string& name, bool trainable) {
  std::shared_ptr<PeftConfig> config = read_config_file((dir / "adapter_config.json").string());
  config->inference_mode = !trainable;
  Adapter& adapter = add_adapter(name, config);
  try {
    adapter.load_file_tensors(read_adapter_weights(dir), dir.string());
  } catch (...) {
    delete_adapter(name);  // leave the model as it was
    throw;
  }
  if (!trainable)
    for (auto& [key, t] : adapter.trainable_tensors()) t.requires_grad_(false);
  return adapter;
}

bool PeftModel::has_adapter(const std::string& name) const {
  return std::any_of(adapters_.begin(), adapters_.end(), [&](const auto& a) { return a->name() == name; });
}

Adapter& PeftModel::adapter(const std::string& name) const {
  for (const auto& a : adapters_)
    if (a->name() == name) return *a;
  std::ostringstream known;
  for (const auto& a : adapters_) known << " '" << a->name() << "'";
  engine::fail<KeyError>("[PeftModel] no adapter '", name, "'; adapters:", known.str());
}

std::vector<std::string> PeftModel::adapter_names() const {
  std::vector<std::string> names;
  for (const auto& a : adapters_) names.push_back(a->name());
  return names;
}

void PeftModel::delete_adapter(const std::string& name_ref) {
  const std::string name = name_ref;  // the caller's string may be the victim's own name (unload)
  Adapter& victim = adapter(name);
  victim.set_active(false);
  victim.detach(*base_);
  adapters_.erase(std::find_if(adapters_.begin(), adapters_.end(), [&](const auto& a) { return a.get() == &victim; }));
  active_.erase(std::remove(active_.begin(), active_.end(), name), active_.end());
  apply_active();
}

void PeftModel::set_adapter(const std::vector<std::string>& names) {
  int prompt_methods = 0;
  for (const auto& n : names) prompt_methods += adapter(n).config().is_prompt_learning();  // throws if unknown
  engine::check<ValueError>(prompt_methods <= 1, "[PeftModel] only one prompt-learning adapter can be active");
  active_ = names;
  apply_active();
}

void PeftModel::apply_active() {
  for (const auto& a : adapters_) a->set_active(false);  // first off, so modules_to_save can switch owner
  if (disabled_) return;
  for (const auto& a : adapters_)
    if (std::find(active_.begin(), active_.end(), a->name()) != active_.end()) a->set_active(true);
}

PeftModel::Disabled::Disabled(PeftModel& m) : model_(m) {
  model_.unmerge_adapter();
  model_.disabled_ = true;
  model_.apply_active();
}

PeftModel::Disabled::~Disabled() {
  model_.disabled_ = false;
  model_.apply_active();
}

// ---- running

models::ModelOutput PeftModel::forward(const models::Batch& batch, const models::ForwardOptions& options,
                                       const std::vector<std::string>* adapter_names) {
  // The batch follows the model to its device (collated on the host; free on the CPU).
  ForwardContext ctx{models::batch_to(batch, engine::nn::module_device(*base_)), options, {}};
  if (!disabled_)
    for (const auto& a : adapters_)
      if (std::find(active_.begin(), active_.end(), a->name()) != active_.end()) a->prepare(ctx);
  if (!ctx.prefix.empty()) ctx.options.prefix = &ctx.prefix;
  if (adapter_names)
    for (const auto& n : *adapter_names)
      engine::check<KeyError>(n == kBaseOnly || has_adapter(n), "[adapter_names] unknown adapter '", n, "'");
  SampleAdaptersScope scope(adapter_names);
  models::ModelOutput out = base_->forward(ctx.batch, ctx.options);
  out.task_loss = out.loss;
  if (out.loss.defined() && !disabled_)
    for (const auto& a : adapters_)
      if (std::find(active_.begin(), active_.end(), a->name()) != active_.end())
        if (Tensor reg = a->regularization_loss(); reg.defined()) out.loss = out.loss + reg;
  return out;
}

NamedTensors PeftModel::trainable_parameters() const {
  NamedTensors out;
  for (const auto& a : adapters_)
    if (std::find(active_.begin(), active_.end(), a->name()) != active_.end())
      for (auto& [key, t] : a->trainable_tensors())
        if (t.requires_grad()) out.emplace_back(key, t);
  return out;
}

void PeftModel::after_optimizer_step(int64_t step) {
  for (const auto& a : adapters_)
    if (std::find(active_.begin(), active_.end(), a->name()) != active_.end()) a->after_optimizer_step(step);
}

namespace {

// Every distinct tensor of the model and of the adapters (prompt encoders live outside it).
std::vector<Tensor> distinct_tensors(const models::PretrainedModel& model, const std::vector<std::unique_ptr<Adapter>>& adapters) {
  std::set<const engine::TensorImpl*> seen;
  std::vector<Tensor> out;
  auto add = [&](const Tensor& t) {
    if (seen.insert(t.impl()).second) out.push_back(t);
  };
  for (const auto& [name, t] : model.named_parameters()) add(t);
  for (const auto& a : adapters)
    for (const auto& [name, t] : a->trainable_tensors()) add(t);
  return out;
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

int64_t PeftModel::num_trainable_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : distinct_tensors(*base_, adapters_))
    if (t.requires_grad()) n += engine::grad_mask(t) ? engine::grad_mask(t)->count() : t.numel();  // masked: its entries
  return n;
}

int64_t PeftModel::num_all_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : distinct_tensors(*base_, adapters_)) n += t.numel();
  return n;
}

std::string PeftModel::trainable_parameters_report() const {
  const int64_t trainable = num_trainable_parameters(), all = num_all_parameters();
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.4f", all ? 100.0 * static_cast<double>(trainable) / static_cast<double>(all) : 0.0);
  return "trainable params: " + with_commas(trainable) + " || all params: " + with_commas(all) + " || trainable%: " + pct;
}

// ---- files

void PeftModel::save_pretrained(const std::filesystem::path& dir, const std::vector<std::string>& names) const {
  for (const auto& a : adapters_) {
    if (!names.empty() && std::find(names.begin(), names.end(), a->name()) == names.end()) continue;
    save_adapter_folder(*a, a->name() == "default" ? dir : dir / a->name());
  }
}

// ---- merging

void PeftModel::merge_adapter(const std::vector<std::string>& names) {
  const std::vector<std::string>& which = names.empty() ? active_ : names;
  for (const auto& n : which) {  // refuse before changing anything
    const std::string why = adapter(n).merge_refusal();
    engine::check<ValueError>(why.empty(), "[merge] adapter '", n, "' (", adapter(n).config().peft_type,
                              ") cannot be merged: ", why);
  }
  for (const auto& n : which) adapter(n).merge();
}

void PeftModel::unmerge_adapter() {
  for (const auto& a : adapters_) a->unmerge();
}

models::ModelPtr PeftModel::merge_and_unload() {
  for (const auto& [path, module] : base_->named_modules())
    if (auto* layer = dynamic_cast<TunerLayer*>(module.get())) layer->prepare_merge_and_unload();
  merge_adapter();
  // Each wrapper gives way to its base layer (now holding the merged weights), each
  // modules_to_save wrapper to the active adapter's trained copy.
  std::vector<std::pair<std::string, engine::nn::ModulePtr>> replacements;
  for (const auto& [path, module] : base_->named_modules()) {
    if (auto* layer = dynamic_cast<TunerLayer*>(module.get())) replacements.emplace_back(path, layer->child("base_layer"));
    if (auto* saved = dynamic_cast<ModulesToSave*>(module.get())) {
      engine::nn::ModulePtr keep = saved->original();
      auto copies = std::static_pointer_cast<ModuleDict>(saved->child("modules_to_save"));
      for (const auto& n : active_)
        if (copies->contains(n)) keep = copies->at<engine::nn::Module>(n);
      replacements.emplace_back(path, keep);
    }
  }
  // Deepest first, so every path is still valid when its turn comes.
  for (auto it = replacements.rbegin(); it != replacements.rend(); ++it) base_->replace_module(it->first, it->second);
  adapters_.clear();
  active_.clear();
  base_->requires_grad_(false);
  return base_;
}

models::ModelPtr PeftModel::unload() {
  unmerge_adapter();
  while (!adapters_.empty()) delete_adapter(adapters_.back()->name());
  return base_;
}

}  // namespace peft
