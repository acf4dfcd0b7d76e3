// PeftModel: a frozen base model plus named adapters (PEFT's PeftModel / LoraModel API).
//
//   auto peft = PeftModel(models::load_pretrained(dir));
//   peft.add_adapter("default", peft::make_config("lora", {{"r", 8}}));
//   ModelOutput out = peft.forward(batch);          // active adapters applied
//   peft.save_pretrained("out/");                   // adapter_config.json + adapter_model.safetensors
//
// The base model's parameters are frozen when it is wrapped, so training touches only the
// adapters: the engine records no gradient kernel and saves no activation for frozen weights.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "peft/core/adapter.h"

namespace peft {

class PeftModel {
 public:
  explicit PeftModel(models::ModelPtr base);
  PeftModel(const PeftModel&) = delete;
  PeftModel& operator=(const PeftModel&) = delete;

  models::PretrainedModel& base() const { return *base_; }
  models::ModelPtr base_ptr() const { return base_; }

  // ---- adapters
  // Adds and activates-if-first an adapter. `seed` seeds its random initialisation.
  Adapter& add_adapter(const std::string& name, std::shared_ptr<PeftConfig> config, uint64_t seed = 0);
  // Loads a folder written by PEFT (or save_pretrained): adapter_config.json +
  // adapter_model.safetensors (or .bin). Tensors are frozen unless `trainable`.
  Adapter& load_adapter(const std::filesystem::path& dir, const std::string& name = "default", bool trainable = false);
  void delete_adapter(const std::string& name);
  bool has_adapter(const std::string& name) const;
  Adapter& adapter(const std::string& name) const;
  std::vector<std::string> adapter_names() const;
  // The active set: one or several adapters (several layer adapters sum their effects).
  void set_adapter(const std::vector<std::string>& names);
  const std::vector<std::string>& active_adapters() const { return active_; }

  // Runs the base model alone while alive (merged adapters are unmerged first, as PEFT does).
  class Disabled {
   public:
    explicit Disabled(PeftModel& m);
    ~Disabled();
    Disabled(const Disabled&) = delete;
    Disabled& operator=(const Disabled&) = delete;

   private:
    PeftModel& model_;
    std::vector<std::string> active_;
  };
  Disabled disable_adapters() { return Disabled(*this); }

  // ---- running
  // `adapter_names` (optional, one per sample; "__base__" = no adapter) routes each sample of
  // the batch through its own adapter (LoRA family and modules_to_save). The loss includes
  // the adapters' regularisers; out.task_loss is the loss without them.
  models::ModelOutput forward(const models::Batch& batch, const models::ForwardOptions& options = {},
                              const std::vector<std::string>* adapter_names = nullptr);
  // Trainable tensors of the active adapters by their report names (file keys).
  NamedTensors trainable_parameters() const;
  // Tell adapters an optimizer step happened (AdaLoRA's rank schedule).
  void after_optimizer_step(int64_t step);

  // PEFT's line: "trainable params: 1,234 || all params: 5,678 || trainable%: 21.7321".
  std::string trainable_parameters_report() const;
  int64_t num_trainable_parameters() const;
  int64_t num_all_parameters() const;

  // ---- files
  // The "default" adapter goes to dir/, any other to dir/<name>/ (PEFT's layout). Written
  // atomically (temporary file + rename).
  void save_pretrained(const std::filesystem::path& dir, const std::vector<std::string>& names = {}) const;

  // ---- merging
  void merge_adapter(const std::vector<std::string>& names = {});  // default: the active ones
  void unmerge_adapter();
  // Merges the active adapters, removes every PEFT module and returns the plain base model
  // (this PeftModel is then empty). Throws ValueError with the reason when a merge is impossible.
  models::ModelPtr merge_and_unload();
  // Removes every adapter without merging and returns the base model.
  models::ModelPtr unload();

 private:
  void apply_active();
  models::ModelPtr base_;
  std::vector<std::unique_ptr<Adapter>> adapters_;
  std::vector<std::string> active_;
  bool disabled_ = false;
};

// Writes one adapter's folder (adapter_config.json with inference_mode true, sorted keys,
// indent 2; adapter_model.safetensors with metadata {"format": "pt"}), atomically.
void save_adapter_folder(const Adapter& adapter, const std::filesystem::path& dir);
// Reads adapter_model.safetensors (or adapter_model.bin) of a folder.
std::map<std::string, Tensor> read_adapter_weights(const std::filesystem::path& dir);
// Copies file tensors into the adapter's live tensors by key; one KeyError lists every
// missing key (with shape), unexpected key and shape mismatch.
void load_adapter_weights(const Adapter& adapter, const std::map<std::string, Tensor>& file, const std::string& source);

}  // namespace peft
