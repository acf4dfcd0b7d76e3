// T5 hyper-parameters read from config.json, validated field by field (transformers 4.33
// T5Config defaults). Covers v1.0 (relu, tied embeddings) and v1.1 / flan-t5
// (feed_forward_proj "gated-gelu", untied lm_head).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace models::t5 {

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;  // per-head dim, independent of d_model / num_heads
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_decoder_layers = 6;  // defaults to num_layers
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double dropout_rate = 0.1;
  double layer_norm_epsilon = 1e-6;
  double initializer_factor = 1.0;
  std::string feed_forward_proj = "relu";
  std::string dense_act_fn = "relu";  // from feed_forward_proj ("gated-gelu" -> gelu_new)
  bool is_gated_act = false;          // wi_0 / wi_1 instead of wi
  bool tie_word_embeddings = true;    // also scales the decoder output by d_model^-0.5
  bool is_encoder_decoder = true;
  int64_t pad_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t decoder_start_token_id = -1;  // -1: not set (then labels cannot be shifted)

  int64_t inner_dim() const { return num_heads * d_kv; }
};

// Reads and validates every field (ConfigError naming the field on a bad value).
T5Config read_t5_config(const nlohmann::json& config);

}  // namespace models::t5
