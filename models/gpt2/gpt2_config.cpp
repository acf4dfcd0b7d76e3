// Reading GPT2Config from config.json (see gpt2_config.h).
#include "models/gpt2/gpt2_config.h"

#include "engine/core/error.h"
#include "engine/nn/layers.h"
#include "models/loading/config_reader.h"

namespace models::gpt2 {

namespace {

// A token id field (null or absent -> none) that must lie inside the vocabulary.
std::optional<int64_t> token_id(const ConfigReader& r, const char* key, int64_t vocab) {
  if (!r.has(key)) return std::nullopt;
  const int64_t id = r.require_int(key);
  if (id < 0 || id >= vocab) r.fail(key, "must be a token id below vocab_size " + std::to_string(vocab));
  return id;
}

std::vector<int64_t> eos_ids(const ConfigReader& r, int64_t vocab) {
  if (!r.has("eos_token_id")) return {};
  const nlohmann::json& v = r.json()["eos_token_id"];
  if (!v.is_array()) return {*token_id(r, "eos_token_id", vocab)};
  std::vector<int64_t> ids;
  for (const auto& x : v) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= vocab)
      r.fail("eos_token_id", "must hold token ids below vocab_size, got " + v.dump());
    ids.push_back(x.get<int64_t>());
  }
  return ids;
}

}  // namespace

GPT2Config read_gpt2_config(const nlohmann::json& json) {
  ConfigReader r(json);
  GPT2Config c;
  const std::string type = r.get_string("model_type", "gpt2");
  if (type != "gpt2") r.fail("model_type", "must be \"gpt2\" for this architecture, got \"" + type + "\"");
  c.vocab_size = r.positive_int("vocab_size", c.vocab_size);
  c.n_positions = r.positive_int("n_positions", c.n_positions);
  c.n_embd = r.positive_int("n_embd", c.n_embd);
  c.n_layer = r.positive_int("n_layer", c.n_layer);
  c.n_head = r.positive_int("n_head", c.n_head);
  if (c.n_embd % c.n_head != 0)
    r.fail("n_head", "must divide n_embd " + std::to_string(c.n_embd) + ", got " + std::to_string(c.n_head));
  c.n_inner = r.positive_int("n_inner", 4 * c.n_embd);  // GPT2MLP: n_inner if not None else 4 * n_embd
  c.activation_function = r.get_string("activation_function", c.activation_function);
  r.check_activation("activation_function", c.activation_function);
  c.resid_pdrop = r.probability("resid_pdrop", c.resid_pdrop);
  c.embd_pdrop = r.probability("embd_pdrop", c.embd_pdrop);
  c.attn_pdrop = r.probability("attn_pdrop", c.attn_pdrop);
  c.layer_norm_epsilon = r.get_double("layer_norm_epsilon", c.layer_norm_epsilon);
  if (!(c.layer_norm_epsilon > 0)) r.fail("layer_norm_epsilon", "must be positive");
  c.initializer_range = r.get_double("initializer_range", c.initializer_range);
  if (!(c.initializer_range > 0)) r.fail("initializer_range", "must be positive");
  c.scale_attn_weights = r.get_bool("scale_attn_weights", c.scale_attn_weights);
  c.scale_attn_by_inverse_layer_idx = r.get_bool("scale_attn_by_inverse_layer_idx", false);
  c.reorder_and_upcast_attn = r.get_bool("reorder_and_upcast_attn", false);
  c.tie_word_embeddings = r.get_bool("tie_word_embeddings", true);
  c.pad_token_id = token_id(r, "pad_token_id", c.vocab_size);
  c.bos_token_id = token_id(r, "bos_token_id", c.vocab_size);
  c.eos_token_ids = eos_ids(r, c.vocab_size);
  // GPT-2 with cross-attention (an encoder-decoder's decoder) is a different model.
  if (r.get_bool("add_cross_attention", false)) r.fail("add_cross_attention", "is not supported");
  c.classification = common::read_classification_config(r);
  return c;
}

}  // namespace models::gpt2
