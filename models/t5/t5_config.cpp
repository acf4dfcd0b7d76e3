// Reading T5Config from config.json (see t5_config.h); transformers 4.33 configuration_t5.py.
#include "models/t5/t5_config.h"

#include "engine/core/error.h"
#include "engine/nn/layers.h"
#include "models/loading/config_reader.h"

namespace models::t5 {

namespace {

// T5Config.__init__: "gated-<act>" or "<act>"; "gated-gelu" means gelu_new for backwards
// compatibility with the original v1.1 checkpoints.
void read_feed_forward(const ConfigReader& r, T5Config& c) {
  c.feed_forward_proj = r.get_string("feed_forward_proj", c.feed_forward_proj);
  const std::string& f = c.feed_forward_proj;
  const size_t dash = f.find('-');
  const bool gated = dash != std::string::npos;
  if (gated && (f.substr(0, dash) != "gated" || f.find('-', dash + 1) != std::string::npos || dash + 1 == f.size()))
    r.fail("feed_forward_proj", "\"" + f + "\" is not of the form \"gated-{ACT_FN}\" or \"{ACT_FN}\" (e.g. 'gated-gelu' or 'relu')");
  c.is_gated_act = gated;
  c.dense_act_fn = gated ? f.substr(dash + 1) : f;
  if (f == "gated-gelu") c.dense_act_fn = "gelu_new";
  // PretrainedConfig stores every extra config.json key after T5Config.__init__ derived these
  // two, so explicit values in the file win (transformers writes both since 4.23).
  c.dense_act_fn = r.get_string("dense_act_fn", c.dense_act_fn);
  c.is_gated_act = r.get_bool("is_gated_act", c.is_gated_act);
  r.check_activation(r.has("dense_act_fn") ? "dense_act_fn" : "feed_forward_proj", c.dense_act_fn);
}

void read_token_ids(const ConfigReader& r, T5Config& c) {
  const std::pair<const char*, int64_t*> ids[] = {
      {"pad_token_id", &c.pad_token_id}, {"eos_token_id", &c.eos_token_id},
      {"decoder_start_token_id", &c.decoder_start_token_id}};
  for (const auto& [key, dst] : ids) {
    *dst = r.get_int(key, *dst);
    if (r.has(key) && (*dst < 0 || *dst >= c.vocab_size))
      r.fail(key, "must be a token id below vocab_size " + std::to_string(c.vocab_size) + ", got " +
                      std::to_string(*dst));
  }
}

}  // namespace

T5Config read_t5_config(const nlohmann::json& json) {
  ConfigReader r(json);
  T5Config c;
  const std::string type = r.get_string("model_type", "t5");
  if (type != "t5") r.fail("model_type", "must be \"t5\" for this architecture, got \"" + type + "\"");
  c.vocab_size = r.positive_int("vocab_size", c.vocab_size);
  c.d_model = r.positive_int("d_model", c.d_model);
  c.d_kv = r.positive_int("d_kv", c.d_kv);
  c.d_ff = r.positive_int("d_ff", c.d_ff);
  c.num_layers = r.positive_int("num_layers", c.num_layers);
  c.num_decoder_layers = r.positive_int("num_decoder_layers", c.num_layers);
  c.num_heads = r.positive_int("num_heads", c.num_heads);
  c.relative_attention_num_buckets = r.positive_int("relative_attention_num_buckets", c.relative_attention_num_buckets);
  c.relative_attention_max_distance =
      r.positive_int("relative_attention_max_distance", c.relative_attention_max_distance);
  // The encoder's exact range is num_buckets/4, the decoder's num_buckets/2; below 4 buckets
  // or with max_distance inside the exact range, HF's log-spaced buckets divide by zero.
  if (c.relative_attention_num_buckets < 4)
    r.fail("relative_attention_num_buckets", "must be at least 4, got " + std::to_string(c.relative_attention_num_buckets));
  if (c.relative_attention_max_distance <= c.relative_attention_num_buckets / 2)
    r.fail("relative_attention_max_distance", "must exceed relative_attention_num_buckets / 2 = " +
                                                  std::to_string(c.relative_attention_num_buckets / 2) + ", got " +
                                                  std::to_string(c.relative_attention_max_distance));
  c.dropout_rate = r.probability("dropout_rate", c.dropout_rate);
  c.layer_norm_epsilon = r.get_double("layer_norm_epsilon", c.layer_norm_epsilon);
  if (!(c.layer_norm_epsilon > 0)) r.fail("layer_norm_epsilon", "must be positive");
  c.initializer_factor = r.get_double("initializer_factor", c.initializer_factor);
  if (!(c.initializer_factor > 0)) r.fail("initializer_factor", "must be positive");
  read_feed_forward(r, c);
  c.tie_word_embeddings = r.get_bool("tie_word_embeddings", c.tie_word_embeddings);
  c.is_encoder_decoder = r.get_bool("is_encoder_decoder", c.is_encoder_decoder);
  read_token_ids(r, c);
  return c;
}

}  // namespace models::t5
