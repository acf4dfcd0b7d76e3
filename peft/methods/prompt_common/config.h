// PEFT's PromptLearningConfig (config.py): the fields prompt tuning, P-tuning and prefix tuning
// share. Null model dimensions are filled from the model's config.json when the adapter is
// attached, as PEFT's `_prepare_prompt_learning_config` does, and saved filled in.
#pragma once
#include <initializer_list>
#include <optional>
#include <string>

#include "models/model.h"
#include "peft/core/config.h"

namespace peft::prompt {

struct PromptLearningConfig : PeftConfig {
  std::optional<int64_t> num_virtual_tokens;  // required (PEFT's default is None)
  std::optional<int64_t> token_dim;
  std::optional<int64_t> num_transformer_submodules;
  std::optional<int64_t> num_attention_heads;
  std::optional<int64_t> num_layers;

  void fields(ConfigFields& f) override;
  void validate() const override;
  bool is_prompt_learning() const override { return true; }

  // Fills the null dimensions from the model (hidden size, heads, layers; 2 submodules for
  // SEQ_2_SEQ_LM) and checks the set ones are positive.
  void fill_from_model(const models::PretrainedModel& model);
  // The filled values (ConfigError naming the field when still null).
  int64_t virtual_tokens() const;
  int64_t dim() const;
  int64_t submodules() const;
  int64_t heads() const;
  int64_t layers() const;

 protected:
  [[noreturn]] void fail(const std::string& field, const std::string& why) const;

 private:
  void fill(std::optional<int64_t>& field, const models::PretrainedModel& model, std::initializer_list<const char*> keys,
            int64_t fallback);
};

}  // namespace peft::prompt
