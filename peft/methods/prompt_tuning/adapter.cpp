// Prompt tuning's table and its init (PEFT's PromptEmbedding, tuners/prompt_tuning/model.py).
#include "peft/methods/prompt_tuning/adapter.h"

#include <algorithm>

#include "engine/engine.h"
#include "models/tokenizers/tokenizer.h"
#include "peft/methods/prompt_common/batch_edit.h"

namespace peft::prompt_tuning {

std::vector<int64_t> PromptTuningAdapter::init_token_ids(const models::PretrainedModel& model, int64_t rows,
                                                         engine::Generator& gen) const {
  const PromptTuningConfig& c = prompt_tuning_config();
  std::vector<int64_t> ids;
  if (c.prompt_tuning_init == "SAMPLE_VOCAB") {  // uniform over the vocabulary (torch.randint)
    for (float u : engine::rand({rows}, engine::DType::f32, gen).to_vector<float>())
      ids.push_back(std::min(model.vocab_size() - 1, int64_t(u * float(model.vocab_size()))));
    return ids;
  }
  if (c.prompt_tuning_init != "TEXT") return ids;
  ids = c.prompt_tuning_init_token_ids;
  if (ids.empty())  // tokenizer(text)["input_ids"]: special tokens included, as HF's default
    ids = models::load_tokenizer(*c.tokenizer_name_or_path)->encode(*c.prompt_tuning_init_text).ids;
  engine::check<engine::ConfigError>(!ids.empty(), "[PROMPT_TUNING] prompt_tuning_init_text gives no tokens");
  // PEFT repeats the text's ids until there are enough, then truncates to the table's rows.
  const std::vector<int64_t> once = ids;
  while (int64_t(ids.size()) < rows) ids.insert(ids.end(), once.begin(), once.end());
  ids.resize(size_t(rows));
  for (int64_t id : ids)
    engine::check<engine::ConfigError>(id >= 0 && id < model.vocab_size(), "[PROMPT_TUNING] init token id ", id,
                                       " is outside the vocabulary of ", model.vocab_size());
  return ids;
}

std::shared_ptr<prompt::PromptEncoder> PromptTuningAdapter::make_encoder(models::PretrainedModel& model,
                                                                         engine::Generator& gen) {
  const PromptTuningConfig& c = prompt_tuning_config();
  const int64_t rows = c.virtual_tokens() * c.submodules();  // [n·S, D]: S = 2 for seq2seq
  auto encoder = std::make_shared<prompt::PromptEncoder>(rows, c.dim(), gen);
  if (c.inference_mode) return encoder;  // PEFT skips the init when loading: the file overwrites it
  const std::vector<int64_t> ids = init_token_ids(model, rows, gen);
  if (!ids.empty()) {
    engine::NoGradGuard no_grad;
    const Tensor words = model.input_embeddings().weight();  // [V, D]
    engine::check<engine::ShapeError>(words.size(1) == c.dim(), "[PROMPT_TUNING] token_dim ", c.dim(),
                                      " differs from the word embeddings' width ", words.size(1));
    const Tensor rows_of = engine::index_select(words, 0, engine::from_vector(ids, {rows}).to(words.device()));  // [rows, D]
    engine::copy_(encoder->embedding().weight(), rows_of);
  }
  return encoder;
}

void PromptTuningAdapter::prepare(ForwardContext& ctx) const {
  prompt::prepend_virtual_tokens(ctx, prompt_table(), prompt_config().virtual_tokens(), model(),
                                 config().task_type.value_or(""));
}

}  // namespace peft::prompt_tuning
