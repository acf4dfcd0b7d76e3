// What prompt tuning, P-tuning and prefix tuning share as PEFT adapters: the config filled
// from the model, a prompt encoder living outside the model tree (PEFT's
// `prompt_encoder.<adapter>`), the adapter file's single `prompt_embeddings` tensor (the
// encoder's output), modules_to_save under `base_model.` and the fixtures' gradient names.
// Subclasses build their encoder and say how its output enters the batch (prepare).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "peft/core/adapter.h"
#include "peft/core/module_dict.h"
#include "peft/methods/prompt_common/config.h"
#include "peft/methods/prompt_common/encoder.h"

namespace peft::prompt {

class PromptAdapter : public Adapter {
 public:
  using Adapter::Adapter;
  const PromptLearningConfig& prompt_config() const { return static_cast<const PromptLearningConfig&>(config()); }

  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;
  void set_active(bool on) override { set_modules_to_save_active(on); }

  // `prompt_embeddings` (the table for prompt tuning, the embedding under P-tuning's MLP /
  // prefix tuning's projection), `prompt_encoder.<adapter>.<param>` for the reparameterisation,
  // then modules_to_save.
  NamedTensors trainable_tensors() const override;
  // The file holds the encoder's output. A plain table takes it as it is; a reparameterised
  // encoder either gets its parameters back from `trainable_params.safetensors` beside the
  // file (every trainable tensor by PEFT's in-memory name, as the reference fixtures store it;
  // checked to reproduce the file's table) or becomes a plain table of the file's values, as
  // PEFT's inference-mode load does.
  void load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source) override;

  PromptEncoder& encoder() const;
  // The encoder's output [rows, width], differentiable in the encoder's parameters.
  Tensor prompt_table() const { return encoder().table(); }

 protected:
  virtual std::shared_ptr<PromptEncoder> make_encoder(models::PretrainedModel& model, engine::Generator& gen) = 0;
  NamedTensors method_tensors() const override;
  std::string saved_module_prefix() const override { return "base_model."; }
  PromptLearningConfig& mutable_prompt_config() { return static_cast<PromptLearningConfig&>(mutable_config()); }
  models::PretrainedModel& model() const;

 private:
  bool restore_encoder(const std::string& dir);
  std::shared_ptr<ModuleDict> encoders_;  // PEFT's prompt_encoder: {adapter name: encoder}
  models::PretrainedModel* model_ = nullptr;
};

}  // namespace peft::prompt
