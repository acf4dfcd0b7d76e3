// An adapter: one named instance of a method attached to a model (PEFT's "adapter_name"). The
// PeftModel owns its adapters and talks to them only through this interface, whatever the
// method does to the model: wrap layers (LoRA family, IA3, LN tuning), hook sites (bottleneck
// adapters), change the batch (prompt methods) or mask the base weights' gradients (selective).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"
#include "models/model.h"
#include "peft/core/config.h"
#include "peft/core/modules_to_save.h"

namespace peft {

using engine::Tensor;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a prompt method may change before the model runs (see PeftModel::forward).
struct ForwardContext {
  models::Batch batch;
  models::ForwardOptions options;
  std::vector<models::LayerKV> prefix;  // storage behind options.prefix
};

class Adapter {
 public:
  Adapter(std::string name, std::shared_ptr<PeftConfig> config) : name_(std::move(name)), config_(std::move(config)) {}
  virtual ~Adapter() = default;
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  const std::string& name() const { return name_; }
  const PeftConfig& config() const { return *config_; }
  std::shared_ptr<PeftConfig> shared_config() const { return config_; }

  // Attaches to / removes from the model (called once each by PeftModel). `seed` seeds the
  // method's random initialisation.
  virtual void attach(models::PretrainedModel& model, uint64_t seed) = 0;
  virtual void detach(models::PretrainedModel& model) = 0;
  // Whether this adapter takes part in forward passes (PeftModel::set_adapter).
  virtual void set_active(bool on) = 0;

  // The tensors of the adapter file by their exact PEFT key (live tensors, not copies),
  // modules_to_save copies included.
  NamedTensors file_tensors() const;
  // Every trainable tensor, by the name the fixtures' `grad.<name>` use: the file key, or
  // PEFT's in-memory name for tensors that are not saved (p-tuning's MLP).
  virtual NamedTensors trainable_tensors() const;

  // Loads the tensors of an adapter file (read_adapter_weights) into this adapter; the
  // default copies by key, strictly. P-tuning overrides it (its file holds the MLP's output).
  virtual void load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source);

  // Prompt methods change the batch / add K/V prefixes; others leave it alone.
  virtual void prepare(ForwardContext& ctx) const { (void)ctx; }
  // Extra loss terms (AdaLoRA's orthogonality regulariser); undefined when none.
  virtual Tensor regularization_loss() const { return {}; }
  // Called after each optimizer step with the global step (AdaLoRA's rank allocation).
  virtual void after_optimizer_step(int64_t step) { (void)step; }

  // Merging into the base weights. can_merge returns "" when possible, else the reason.
  virtual std::string merge_refusal() const { return "method " + config_->peft_type + " cannot be merged"; }
  virtual void merge() {}
  virtual void unmerge() {}
  virtual bool merged() const { return false; }

 protected:
  // Methods may record what they inferred (LoRA sets fan_in_fan_out for GPT-2 Conv1D, as PEFT does).
  PeftConfig& mutable_config() { return *config_; }
  // The method's own file tensors (without modules_to_save).
  virtual NamedTensors method_tensors() const = 0;
  // PEFT's key prefix for modules_to_save tensors: "base_model.model." for tuners,
  // "base_model." for prompt-learning methods.
  virtual std::string saved_module_prefix() const { return "base_model.model."; }
  // Wraps config().modules_to_save (+ the head added for SEQ_CLS) in trainable copies.
  void attach_modules_to_save(models::PretrainedModel& model);
  void detach_modules_to_save(models::PretrainedModel& model);
  void set_modules_to_save_active(bool on);

 private:
  std::string name_;
  std::shared_ptr<PeftConfig> config_;
  std::vector<std::pair<std::string, std::shared_ptr<ModulesToSave>>> saved_modules_;  // path, wrapper
};

}  // namespace peft
