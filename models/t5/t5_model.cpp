// T5ForConditionalGeneration and T5EncoderModel (see t5_model.h); transformers 4.33
// modeling_t5.py.
#include "models/t5/t5_model.h"

#include <cmath>

#include "engine/engine.h"
#include "models/common/loss.h"

namespace models::t5 {
using engine::nn::Embedding;
using engine::nn::Linear;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// T5 has relative positions and one segment: BERT-style inputs would be silently ignored.
void check_unused_inputs(const Batch& batch, const std::string& model) {
  engine::check<engine::ValueError>(!batch.position_ids.defined(), "[", model,
                                    "] position_ids are not used by T5 (positions are relative)");
  engine::check<engine::ValueError>(!batch.token_type_ids.defined(), "[", model, "] T5 has no token_type_ids");
}

}  // namespace

Tensor shift_right(const Tensor& labels, int64_t decoder_start_token_id, int64_t pad_token_id) {
  engine::check<engine::ConfigError>(decoder_start_token_id >= 0, "[T5] config.json has no decoder_start_token_id, ",
                                     "needed to build decoder_input_ids from labels (T5 uses the pad token id)");
  engine::check<engine::ShapeError>(labels.dim() == 2, "[T5] labels must be [B,T], got ",
                                    engine::shape_str(labels.shape()));
  const int64_t B = labels.size(0), T = labels.size(1);
  std::vector<int64_t> in = labels.to_vector<int64_t>(), out(in.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t v = t == 0 ? decoder_start_token_id : in[size_t(b * T + t - 1)];
      out[size_t(b * T + t)] = v == -100 ? pad_token_id : v;
    }
  return engine::from_vector(out, {B, T}).to(labels.device());  // built on the host, used where labels live
}

T5Base::T5Base(const T5Config& c, const nlohmann::json& config) : c_(c) {
  config_ = config;
  auto shared = register_module("shared", std::make_shared<Embedding>(c.vocab_size, c.d_model));
  register_module("encoder", std::make_shared<T5Stack>(c, shared, false));
}

engine::nn::Embedding& T5Base::input_embeddings() {
  auto emb = child_as<Embedding>("shared");
  engine::check<engine::ValueError>(emb != nullptr, "[", type_name(), "] shared is no longer an Embedding");
  return *emb;
}

std::shared_ptr<T5Stack> T5Base::stack(const char* name) const { return child_as<T5Stack>(name); }

Tensor T5Base::encode(const Batch& batch, const ForwardOptions& options, std::vector<Tensor>* hidden_states) const {
  (void)options;  // the encoder gets no prefix and no cache (peft gives T5's decoder the prefix)
  check_unused_inputs(batch, type_name());
  const bool has_ids = batch.input_ids.defined();
  engine::check<engine::ValueError>(has_ids != batch.inputs_embeds.defined(), "[", type_name(),
                                    "] give exactly one of input_ids and inputs_embeds");
  auto encoder = stack("encoder");
  Tensor embeds = has_ids ? encoder->embed(batch.input_ids) : batch.inputs_embeds;  // [B,S,D]
  embeds = site(kSiteInputEmbeds, embeds);
  T5StackInputs in;
  in.attention_mask = batch.attention_mask;
  return encoder->forward(embeds, in, hidden_states);
}

// ---- T5ForConditionalGeneration

T5ForConditionalGeneration::T5ForConditionalGeneration(const T5Config& c, const nlohmann::json& config)
    : T5Base(c, config) {
  auto shared = child_as<Embedding>("shared");
  register_module("decoder", std::make_shared<T5Stack>(c, shared, true));
  auto lm_head = register_module("lm_head", std::make_shared<Linear>(c.d_model, c.vocab_size, false));
  if (c.tie_word_embeddings) lm_head->param("weight") = shared->weight();  // one tensor (tie_weights)
}

Tensor T5ForConditionalGeneration::decoder_embeds(const Batch& batch) const {
  if (batch.decoder_inputs_embeds.defined()) return batch.decoder_inputs_embeds;
  auto decoder = stack("decoder");
  if (batch.decoder_input_ids.defined()) return decoder->embed(batch.decoder_input_ids);
  engine::check<engine::ValueError>(batch.labels.defined(), "[", type_name(),
                                    "] needs decoder_input_ids, decoder_inputs_embeds or labels");
  return decoder->embed(shift_right(batch.labels, c_.decoder_start_token_id, c_.pad_token_id));  // [B,T,D]
}

ModelOutput T5ForConditionalGeneration::forward(const Batch& batch, const ForwardOptions& options) {
  ModelOutput out;
  T5StackInputs in;
  if (options.encoder_output.defined()) {  // generation: the encoder ran once already
    out.encoder_last_hidden_state = options.encoder_output;
    in.encoder_attention_mask =
        options.encoder_attention_mask.defined() ? options.encoder_attention_mask : batch.attention_mask;
  } else {
    out.encoder_last_hidden_state =
        encode(batch, options, options.output_hidden_states ? &out.encoder_hidden_states : nullptr);
    in.encoder_attention_mask = batch.attention_mask;
  }
  in.attention_mask = batch.decoder_attention_mask;
  in.encoder_hidden_states = out.encoder_last_hidden_state;
  in.options = &options;
  out.last_hidden_state = stack("decoder")->forward(decoder_embeds(batch), in,
                                                    options.output_hidden_states ? &out.decoder_hidden_states : nullptr);
  Tensor h = out.last_hidden_state;  // [B,T,D]
  // Mesh TensorFlow rescales the decoder output before the tied projection (modeling_t5.py).
  if (c_.tie_word_embeddings) h = h * std::pow(double(c_.d_model), -0.5);
  out.logits = call("lm_head", h);  // [B,T,V]
  if (batch.labels.defined()) out.loss = common::token_cross_entropy(out.logits, batch.labels);
  return out;
}

std::vector<std::pair<std::string, std::string>> T5ForConditionalGeneration::tied_weights() const {
  std::vector<std::pair<std::string, std::string>> tied = {{"encoder.embed_tokens.weight", "shared.weight"},
                                                           {"decoder.embed_tokens.weight", "shared.weight"}};
  if (c_.tie_word_embeddings) tied.emplace_back("lm_head.weight", "shared.weight");
  return tied;
}

bool T5ForConditionalGeneration::may_be_unexpected(const std::string& key) const {
  // Old checkpoints carry a never-used cross-attention bias (_keys_to_ignore_on_load_unexpected).
  return key == "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight";
}

// ---- T5EncoderModel

T5EncoderModel::T5EncoderModel(const T5Config& c, const nlohmann::json& config) : T5Base(c, config) {}

ModelOutput T5EncoderModel::forward(const Batch& batch, const ForwardOptions& options) {
  // HF's T5EncoderModel takes no past_key_values: a prefix here would be silently unused.
  engine::check<engine::ValueError>(!options.prefix && !options.cache, "[T5EncoderModel] has no prefix K/V or KV cache ",
                                    "(only T5ForConditionalGeneration's decoder takes them)");
  ModelOutput out;
  out.last_hidden_state = encode(batch, options, options.output_hidden_states ? &out.hidden_states : nullptr);
  return out;
}

std::vector<std::pair<std::string, std::string>> T5EncoderModel::tied_weights() const {
  return {{"encoder.embed_tokens.weight", "shared.weight"}};
}

bool T5EncoderModel::may_be_unexpected(const std::string& key) const {
  return starts_with(key, "decoder.") || key == "lm_head.weight";
}

}  // namespace models::t5
