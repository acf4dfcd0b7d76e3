// GPT-2 hyper-parameters read from config.json, validated field by field (transformers 4.33
// GPT2Config defaults). Every field the model reads is here, so a config that changes any of
// them (n_inner, activation, eps, attention scaling, dropouts) is honoured.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/common/loss.h"

namespace models::gpt2 {

struct GPT2Config {
  int64_t vocab_size = 50257;
  int64_t n_positions = 1024;
  int64_t n_embd = 768;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_inner = 0;  // resolved: null in config.json means 4 * n_embd
  std::string activation_function = "gelu_new";
  double resid_pdrop = 0.1;
  double embd_pdrop = 0.1;
  double attn_pdrop = 0.1;
  double layer_norm_epsilon = 1e-5;
  double initializer_range = 0.02;
  bool scale_attn_weights = true;
  bool scale_attn_by_inverse_layer_idx = false;
  bool reorder_and_upcast_attn = false;  // same math in f32; accepted
  bool tie_word_embeddings = true;
  std::optional<int64_t> pad_token_id, bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json may give one id or a list
  common::ClassificationConfig classification;

  int64_t head_dim() const { return n_embd / n_head; }
};

// Reads and validates every field (ConfigError naming the field on a bad value; the
// activation name is checked against the engine's table).
GPT2Config read_gpt2_config(const nlohmann::json& config);

}  // namespace models::gpt2
