// The T5 architectures (transformers 4.33 modeling_t5.py): T5ForConditionalGeneration
// (shared embedding, encoder, decoder, lm_head) and T5EncoderModel (shared, encoder). The
// encoder's and decoder's embed_tokens are the `shared` module itself, so named_parameters()
// lists it once as shared.weight; with tie_word_embeddings lm_head.weight is that tensor too.
#pragma once
#include <memory>

#include "models/model.h"
#include "models/t5/t5_config.h"
#include "models/t5/t5_stack.h"

namespace models::t5 {

// Decoder inputs from labels (T5PreTrainedModel._shift_right): decoder_start_token_id, then
// labels[:, :-1], with -100 replaced by pad_token_id. labels [B,T] -> [B,T] i64.
Tensor shift_right(const Tensor& labels, int64_t decoder_start_token_id, int64_t pad_token_id);

// What both architectures share: config, `shared`, the encoder and the PretrainedModel answers.
class T5Base : public PretrainedModel {
 public:
  T5Base(const T5Config& c, const nlohmann::json& config);
  // Overridden by each architecture; defined because the constructor registers children.
  std::string type_name() const override { return "T5PreTrainedModel"; }
  std::string model_type() const override { return "t5"; }
  int64_t hidden_size() const override { return c_.d_model; }
  int64_t num_layers() const override { return c_.num_layers; }
  int64_t num_heads() const override { return c_.num_heads; }
  int64_t head_dim() const override { return c_.d_kv; }
  int64_t vocab_size() const override { return c_.vocab_size; }
  engine::nn::Embedding& input_embeddings() override;
  const T5Config& t5_config() const { return c_; }

 protected:
  // Runs the encoder on input_ids or inputs_embeds (the input_embeds site applies to either).
  Tensor encode(const Batch& batch, const ForwardOptions& options, std::vector<Tensor>* hidden_states) const;
  std::shared_ptr<T5Stack> stack(const char* name) const;

  T5Config c_;
};

class T5ForConditionalGeneration : public T5Base {
 public:
  T5ForConditionalGeneration(const T5Config& c, const nlohmann::json& config);
  std::string type_name() const override { return "T5ForConditionalGeneration"; }
  std::string architecture() const override { return type_name(); }
  bool is_encoder_decoder() const override { return true; }
  // Encoder (skipped when options.encoder_output is given), decoder on decoder_input_ids /
  // decoder_inputs_embeds / shift_right(labels), lm_head; loss = CE over labels != -100.
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
  std::vector<std::pair<std::string, std::string>> tied_weights() const override;
  bool may_be_unexpected(const std::string& key) const override;

 private:
  Tensor decoder_embeds(const Batch& batch) const;
};

class T5EncoderModel : public T5Base {
 public:
  T5EncoderModel(const T5Config& c, const nlohmann::json& config);
  std::string type_name() const override { return "T5EncoderModel"; }
  std::string architecture() const override { return type_name(); }
  // last_hidden_state and hidden_states of the encoder; no loss (HF's has none).
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
  std::vector<std::pair<std::string, std::string>> tied_weights() const override;
  // A full T5 checkpoint loads: its decoder and lm_head are ignored (HF: r"decoder").
  bool may_be_unexpected(const std::string& key) const override;
};

// HF's T5PreTrainedModel._init_weights with initializer_factor f: layer norms f; shared (and
// an untied lm_head) N(0, f); q N(0, f·(d_model·d_kv)^-½); k, v N(0, f·d_model^-½);
// o N(0, f·(H·d_kv)^-½); relative_attention_bias N(0, f·d_model^-½); wi* N(0, f·d_model^-½);
// wo N(0, f·d_ff^-½).
void init_t5_weights(engine::nn::Module& root, const T5Config& c);

}  // namespace models::t5
