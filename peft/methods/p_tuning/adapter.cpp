// P-tuning's adapter: the encoder is built only for training; in inference mode PEFT (and we)
// keep a plain table holding the encoder's output, which is what the adapter file stores.
#include "peft/methods/p_tuning/adapter.h"

#include "peft/methods/p_tuning/encoder.h"
#include "peft/methods/prompt_common/batch_edit.h"

namespace peft::p_tuning {

std::shared_ptr<prompt::PromptEncoder> PTuningAdapter::make_encoder(models::PretrainedModel& model, engine::Generator& gen) {
  (void)model;
  auto& c = static_cast<PromptEncoderConfig&>(mutable_prompt_config());
  if (!c.encoder_hidden_size) c.encoder_hidden_size = c.dim();  // _prepare_prompt_learning_config
  const int64_t rows = c.virtual_tokens() * c.submodules();
  if (c.inference_mode) return std::make_shared<prompt::PromptEncoder>(rows, c.dim(), gen);
  return std::make_shared<PTuningEncoder>(c, rows, *c.encoder_hidden_size, gen);
}

void PTuningAdapter::prepare(ForwardContext& ctx) const {
  prompt::prepend_virtual_tokens(ctx, prompt_table(), prompt_config().virtual_tokens(), model(),
                                 config().task_type.value_or(""));
}

}  // namespace peft::p_tuning
