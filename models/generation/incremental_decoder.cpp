// One-token-at-a-time model stepping with a KV cache (see incremental_decoder.h). Mirrors
// transformers 4.33 GPT2LMHeadModel.prepare_inputs_for_generation (positions from the
// attention mask's cumulative sum, so left padding does not shift them) and
// T5ForConditionalGeneration's (the encoder output reused every step).
#include "models/generation/incremental_decoder.h"

#include <algorithm>
#include <utility>

#include "engine/engine.h"
#include "engine/nn/module_device.h"

namespace models::generation {
using engine::DType;

namespace {

Tensor column(const std::vector<int64_t>& values, engine::Device device) {
  return engine::from_vector(values, {int64_t(values.size()), 1}).to(device);  // [N,1]
}

// Row `rows[r]` of t for each r, along dim 0 (undefined stays undefined).
Tensor take_rows(const Tensor& t, const Tensor& index) {
  return t.defined() ? engine::index_select(t, 0, index) : t;
}

}  // namespace

IncrementalDecoder::IncrementalDecoder(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                       int64_t pad_id, int64_t start_id, ForwardFn forward)
    : model_(model),
      forward_(std::move(forward)),
      device_(engine::nn::module_device(model)),
      encoder_decoder_(model.is_encoder_decoder()),
      rows_(int64_t(prompts.size())),
      vocab_(model.vocab_size()),
      prompts_(prompts),
      pad_id_(pad_id),
      start_id_(start_id) {
  engine::check<engine::ValueError>(!prompts.empty(), "[generate] no prompts");
  for (const auto& p : prompts)
    engine::check<engine::ValueError>(encoder_decoder_ || !p.empty(),
                                      "[generate] a decoder-only model needs a non-empty prompt");
}

ModelOutput IncrementalDecoder::run(const Batch& batch, const ForwardOptions& options) {
  return forward_ ? forward_(batch, options) : model_.forward(batch, options);
}

Tensor IncrementalDecoder::last_position_logits(const ModelOutput& out) {
  engine::check<engine::ValueError>(out.logits.defined() && out.logits.dim() == 3, "[generate] ",
                                    model_.architecture(), " gives no token logits [B,T,V]");
  vocab_ = out.logits.size(2);
  return out.logits.select(1, out.logits.size(1) - 1);  // [N,V], a view
}

std::vector<float> IncrementalDecoder::next_logits(const std::vector<int64_t>& tokens) {
  engine::NoGradGuard no_grad;
  return step(tokens).contiguous().to_vector<float>();  // [N,V] row-major on the host
}

std::vector<int64_t> IncrementalDecoder::next_argmax(const std::vector<int64_t>& tokens) {
  engine::NoGradGuard no_grad;
  return engine::argmax(step(tokens), -1).to_vector<int64_t>();  // [N]
}

// Decoder-only: prompts left-padded to the longest (HF's required padding side for batched
// generation); position ids = cumsum(mask) - 1, with 1 at padding.
// Encoder-decoder: prompts right-padded for the encoder, the decoder fed its start token.
Tensor IncrementalDecoder::first_step() {
  size_t L = 0;
  for (const auto& p : prompts_) L = std::max(L, p.size());
  std::vector<int64_t> ids, mask, pos;
  for (const auto& p : prompts_) {
    const size_t pad = L - p.size();
    for (size_t t = 0; t < L; ++t) {
      const bool real = encoder_decoder_ ? t < p.size() : t >= pad;
      ids.push_back(real ? p[encoder_decoder_ ? t : t - pad] : pad_id_);
      mask.push_back(real);
      pos.push_back(real ? int64_t(t - pad) : 1);
    }
  }
  Batch batch;
  batch.input_ids = engine::from_vector(ids, {rows_, int64_t(L)}).to(device_);
  attention_mask_ = engine::from_vector(mask, {rows_, int64_t(L)}).to(device_);
  batch.attention_mask = attention_mask_;
  ForwardOptions options;
  options.cache = &cache_;
  if (encoder_decoder_) {
    batch.decoder_input_ids = column(std::vector<int64_t>(size_t(rows_), start_id_), device_);
    length_ = 1;
  } else {
    batch.position_ids = engine::from_vector(pos, {rows_, int64_t(L)}).to(device_);
    for (int64_t r = 0; r < rows_; ++r) last_position_.push_back(pos[size_t((r + 1) * int64_t(L) - 1)]);
    length_ = int64_t(L);
  }
  ModelOutput out = run(batch, options);
  if (encoder_decoder_) encoder_output_ = out.encoder_last_hidden_state;
  return last_position_logits(out);
}

Tensor IncrementalDecoder::step(const std::vector<int64_t>& tokens) {
  if (length_ == 0) return first_step();
  engine::check<engine::ValueError>(int64_t(tokens.size()) == rows_, "[generate] ", tokens.size(),
                                    " tokens for ", rows_, " rows");
  Batch batch;
  ForwardOptions options;
  options.cache = &cache_;
  if (encoder_decoder_) {
    batch.decoder_input_ids = column(tokens, device_);
    batch.attention_mask = attention_mask_;
    options.encoder_output = encoder_output_;
    options.encoder_attention_mask = attention_mask_;
  } else {
    batch.input_ids = column(tokens, device_);
    // Every generated token is attended (HF appends a 1 per step, finished rows included).
    attention_mask_ = engine::concat({attention_mask_, engine::ones({rows_, 1}, attention_mask_.dtype(), device_)}, 1);
    for (int64_t& p : last_position_) ++p;
    batch.attention_mask = attention_mask_;
    batch.position_ids = column(last_position_, device_);
  }
  ++length_;
  return last_position_logits(run(batch, options));
}

void IncrementalDecoder::reorder(const std::vector<int64_t>& rows) {
  const Tensor index = engine::from_vector(rows, {int64_t(rows.size())}).to(device_);
  for (auto* layers : {&cache_.self_attn, &cache_.cross_attn})
    for (LayerKV& kv : *layers) kv.k = take_rows(kv.k, index), kv.v = take_rows(kv.v, index);
  attention_mask_ = take_rows(attention_mask_, index);
  if (!last_position_.empty()) {
    std::vector<int64_t> moved;
    for (int64_t r : rows) moved.push_back(last_position_[size_t(r)]);
    last_position_ = std::move(moved);
  }
  encoder_output_ = take_rows(encoder_output_, index);
}

}  // namespace models::generation
