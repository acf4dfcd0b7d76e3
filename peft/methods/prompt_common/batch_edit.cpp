// Batch edits of the prompt-learning methods (see batch_edit.h).
#include "peft/methods/prompt_common/batch_edit.h"

#include "engine/engine.h"

namespace peft::prompt {

Tensor prepend_columns(const Tensor& t, int64_t n, double value) {
  if (!t.defined()) return t;
  engine::check<engine::ShapeError>(t.dim() == 2, "[prompt] expected a [B,T] tensor, got ", engine::shape_str(t.shape()));
  return engine::concat({engine::full({t.size(0), n}, value, t.dtype(), t.device()), t}, 1);  // [B,n+T]
}

namespace {

// peft warns and drops position ids for every prompt method ("not supported"), so positions
// restart at 0 under the virtual tokens and follow the prefix; causal LMs and seq2seq models
// lose token_type_ids too.
void drop_unsupported(models::Batch& b, const std::string& task_type, bool encoder_decoder) {
  b.position_ids = Tensor{};
  if (task_type == "CAUSAL_LM" || encoder_decoder) b.token_type_ids = Tensor{};
}

}  // namespace

void prepend_virtual_tokens(ForwardContext& ctx, const Tensor& prompts, int64_t n, models::PretrainedModel& model,
                            const std::string& task_type) {
  models::Batch& b = ctx.batch;
  models::ForwardOptions& o = ctx.options;
  const bool encoder_decoder = model.is_encoder_decoder();
  drop_unsupported(b, task_type, encoder_decoder);
  b.attention_mask = prepend_columns(b.attention_mask, n, 1);
  if (encoder_decoder) {
    o.encoder_attention_mask = prepend_columns(o.encoder_attention_mask, n, 1);
    if (o.encoder_output.defined()) return;  // generation: the encoder ran with the prompt already
  } else {
    if (o.cache && o.cache->length() > 0) return;  // generation: the prompt is in the KV cache
    if (b.labels.defined() && b.labels.dim() == 2) b.labels = prepend_columns(b.labels, n, -100);  // token labels
    b.token_type_ids = prepend_columns(b.token_type_ids, n, 0);
  }
  engine::check<engine::ValueError>(b.input_ids.defined() || b.inputs_embeds.defined(), "[", model.architecture(),
                                    "] a prompt method needs input_ids or inputs_embeds");
  const Tensor embeds = b.inputs_embeds.defined() ? b.inputs_embeds : model.input_embeddings().forward(b.input_ids);  // [B,T,D]
  const int64_t B = embeds.size(0), D = embeds.size(2);
  engine::check<engine::ShapeError>(prompts.dim() == 2 && prompts.size(0) >= n && prompts.size(1) == D, "[prompt] table ",
                                    engine::shape_str(prompts.shape()), " does not fit ", n, " tokens of width ", D);
  const Tensor virtual_tokens = engine::to_dtype(prompts.narrow(0, 0, n), embeds.dtype()).unsqueeze(0);  // [1,n,D]
  b.inputs_embeds = engine::concat({engine::expand(virtual_tokens, {B, n, D}), embeds}, 1);  // [B,n+T,D]
  b.input_ids = Tensor{};
}

void extend_masks_for_prefix(ForwardContext& ctx, int64_t n, bool encoder_decoder, const std::string& task_type) {
  models::Batch& b = ctx.batch;
  drop_unsupported(b, task_type, encoder_decoder);
  if (encoder_decoder) b.decoder_attention_mask = prepend_columns(b.decoder_attention_mask, n, 1);
  else b.attention_mask = prepend_columns(b.attention_mask, n, 1);
}

}  // namespace peft::prompt
