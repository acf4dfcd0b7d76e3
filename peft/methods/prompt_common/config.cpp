// PromptLearningConfig fields, validation and PEFT's fill-in from the model config.
#include "peft/methods/prompt_common/config.h"

#include "engine/core/error.h"

namespace peft::prompt {

void PromptLearningConfig::fields(ConfigFields& f) {
  PeftConfig::fields(f);
  f("num_virtual_tokens", num_virtual_tokens);
  f("token_dim", token_dim);
  f("num_transformer_submodules", num_transformer_submodules);
  f("num_attention_heads", num_attention_heads);
  f("num_layers", num_layers);
}

void PromptLearningConfig::fail(const std::string& field, const std::string& why) const {
  engine::fail<engine::ConfigError>("[", peft_type, "] config field '", field, "' ", why);
}

void PromptLearningConfig::validate() const {
  if (!num_virtual_tokens) fail("num_virtual_tokens", "must be set");
  const std::pair<const char*, const std::optional<int64_t>*> dims[] = {
      {"num_virtual_tokens", &num_virtual_tokens}, {"token_dim", &token_dim},
      {"num_transformer_submodules", &num_transformer_submodules}, {"num_attention_heads", &num_attention_heads},
      {"num_layers", &num_layers}};
  for (const auto& [name, v] : dims)
    if (*v && **v <= 0) fail(name, "must be positive, got " + std::to_string(**v));
  if (num_transformer_submodules && *num_transformer_submodules > 2)
    fail("num_transformer_submodules", "must be 1 or 2, got " + std::to_string(*num_transformer_submodules));
}

// PEFT reads the model config's attributes; config.json may omit a default one, which the
// model itself still knows (`fallback`).
void PromptLearningConfig::fill(std::optional<int64_t>& field, const models::PretrainedModel& model,
                                std::initializer_list<const char*> keys, int64_t fallback) {
  if (field) return;
  field = fallback;
  for (const char* k : keys)  // PEFT tries the names in this order
    if (model.config().contains(k) && model.config()[k].is_number_integer()) {
      field = model.config()[k].get<int64_t>();
      return;
    }
}

void PromptLearningConfig::fill_from_model(const models::PretrainedModel& model) {
  fill(num_layers, model, {"num_hidden_layers", "num_layers", "n_layer"}, model.num_layers());
  fill(token_dim, model, {"hidden_size", "n_embd", "d_model"}, model.hidden_size());
  fill(num_attention_heads, model, {"num_attention_heads", "n_head", "num_heads"}, model.num_heads());
  if (!num_transformer_submodules) num_transformer_submodules = task_type == "SEQ_2_SEQ_LM" ? 2 : 1;
  validate();
}

int64_t PromptLearningConfig::virtual_tokens() const {
  if (!num_virtual_tokens) fail("num_virtual_tokens", "must be set");
  return *num_virtual_tokens;
}
int64_t PromptLearningConfig::dim() const {
  if (!token_dim) fail("token_dim", "is not filled (attach the adapter to a model first)");
  return *token_dim;
}
int64_t PromptLearningConfig::submodules() const { return num_transformer_submodules.value_or(1); }
int64_t PromptLearningConfig::heads() const {
  if (!num_attention_heads) fail("num_attention_heads", "is not filled (attach the adapter to a model first)");
  return *num_attention_heads;
}
int64_t PromptLearningConfig::layers() const {
  if (!num_layers) fail("num_layers", "is not filled (attach the adapter to a model first)");
  return *num_layers;
}

}  // namespace peft::prompt
