// How the prompt-learning methods change a batch, as PEFT's PeftModelFor<Task>.forward and
// prepare_inputs_for_generation do (peft 0.11, peft_model.py): virtual tokens in front of the
// input embeddings with ones in the mask, -100 in the labels and zeros in token_type_ids; or,
// for prefix tuning, per-layer K/V prefixes with ones in front of the (decoder) mask.
#pragma once
#include <string>

#include "models/model.h"
#include "peft/core/adapter.h"

namespace peft::prompt {

// t [B,T] with n columns of `value` in front (same dtype); undefined stays undefined.
Tensor prepend_columns(const Tensor& t, int64_t n, double value);

// Prompt tuning / P-tuning. `prompts` [n·S, D] is the encoder's output; its first n rows go in
// front of the (encoder's) input embeddings. Seq2seq: peft 0.11 gives the decoder nothing
// (rows [n, 2n) stay unused). During generation only the mask grows after the first step (the
// prompt is in the KV cache / the encoder output by then).
void prepend_virtual_tokens(ForwardContext& ctx, const Tensor& prompts, int64_t n, models::PretrainedModel& model,
                            const std::string& task_type);

// Prefix tuning: the batch part (K/V go to ctx.prefix separately): ones for the n prefix
// positions in front of the mask (seq2seq: the decoder's mask), position ids dropped.
void extend_masks_for_prefix(ForwardContext& ctx, int64_t n, bool encoder_decoder, const std::string& task_type);

}  // namespace peft::prompt
