// models::batch_to: a host-collated batch moved to the model's device (see model.h).
#include "engine/core/tensor.h"
#include "models/model.h"

namespace models {

Batch batch_to(const Batch& batch, engine::Device device) {
  auto move = [&](const Tensor& t) { return t.defined() ? t.to(device) : t; };  // to() is free when already there
  Batch out;
  out.input_ids = move(batch.input_ids);
  out.attention_mask = move(batch.attention_mask);
  out.token_type_ids = move(batch.token_type_ids);
  out.position_ids = move(batch.position_ids);
  out.inputs_embeds = move(batch.inputs_embeds);
  out.labels = move(batch.labels);
  out.decoder_input_ids = move(batch.decoder_input_ids);
  out.decoder_attention_mask = move(batch.decoder_attention_mask);
  out.decoder_inputs_embeds = move(batch.decoder_inputs_embeds);
  static_assert(sizeof(Batch) == 9 * sizeof(Tensor), "batch_to: a Batch field was added; move it here too");
  return out;
}

}  // namespace models
