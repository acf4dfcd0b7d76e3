// PromptTuningConfig fields and validation.
#include "peft/methods/prompt_tuning/config.h"

namespace peft::prompt_tuning {

void PromptTuningConfig::fields(ConfigFields& f) {
  PromptLearningConfig::fields(f);
  f("prompt_tuning_init", prompt_tuning_init);
  f("prompt_tuning_init_text", prompt_tuning_init_text);
  f("tokenizer_name_or_path", tokenizer_name_or_path);
  f("tokenizer_kwargs", tokenizer_kwargs);
  if (f.reading() || !prompt_tuning_init_token_ids.empty()) f("prompt_tuning_init_token_ids", prompt_tuning_init_token_ids);
}

void PromptTuningConfig::validate() const {
  PromptLearningConfig::validate();
  if (prompt_tuning_init != "RANDOM" && prompt_tuning_init != "TEXT" && prompt_tuning_init != "SAMPLE_VOCAB")
    fail("prompt_tuning_init", "must be RANDOM, TEXT or SAMPLE_VOCAB, got '" + prompt_tuning_init + "'");
  // PEFT's __post_init__: TEXT needs the text and a tokenizer (here: or the token ids).
  if (prompt_tuning_init == "TEXT" && !inference_mode && prompt_tuning_init_token_ids.empty()) {
    if (!prompt_tuning_init_text) fail("prompt_tuning_init_text", "must be set when prompt_tuning_init is TEXT");
    if (!tokenizer_name_or_path)
      fail("tokenizer_name_or_path", "must be set when prompt_tuning_init is TEXT (or give prompt_tuning_init_token_ids)");
  }
  if (!tokenizer_kwargs.is_null() && prompt_tuning_init != "TEXT")
    fail("tokenizer_kwargs", "only applies when prompt_tuning_init is TEXT");
}

}  // namespace peft::prompt_tuning
