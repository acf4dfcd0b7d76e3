// Reading BertConfig from config.json (see bert_config.h).
#include "models/bert/bert_config.h"

#include "engine/core/error.h"
#include "engine/nn/layers.h"
#include "models/loading/config_reader.h"

namespace models::bert {

BertConfig read_bert_config(const nlohmann::json& json) {
  ConfigReader r(json);
  BertConfig c;
  c.model_type = r.get_string("model_type", "bert");
  if (c.model_type != "bert" && c.model_type != "roberta")
    r.fail("model_type", "must be \"bert\" or \"roberta\" for this architecture, got \"" + c.model_type + "\"");
  if (c.is_roberta()) c.pad_token_id = 1;  // RobertaConfig's default
  c.vocab_size = r.positive_int("vocab_size", c.vocab_size);
  c.hidden_size = r.positive_int("hidden_size", c.hidden_size);
  c.num_hidden_layers = r.positive_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = r.positive_int("num_attention_heads", c.num_attention_heads);
  if (c.hidden_size % c.num_attention_heads != 0)
    r.fail("num_attention_heads", "must divide hidden_size " + std::to_string(c.hidden_size) + ", got " +
                                      std::to_string(c.num_attention_heads));
  c.intermediate_size = r.positive_int("intermediate_size", c.intermediate_size);
  c.hidden_act = r.get_string("hidden_act", c.hidden_act);
  r.check_activation("hidden_act", c.hidden_act);
  c.hidden_dropout_prob = r.probability("hidden_dropout_prob", c.hidden_dropout_prob);
  c.attention_probs_dropout_prob = r.probability("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  c.max_position_embeddings = r.positive_int("max_position_embeddings", c.max_position_embeddings);
  c.type_vocab_size = r.positive_int("type_vocab_size", c.type_vocab_size);
  c.layer_norm_eps = r.get_double("layer_norm_eps", c.layer_norm_eps);
  if (!(c.layer_norm_eps > 0)) r.fail("layer_norm_eps", "must be positive");
  c.pad_token_id = r.get_int("pad_token_id", c.pad_token_id);
  if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
    r.fail("pad_token_id", "must be a token id below vocab_size " + std::to_string(c.vocab_size));
  c.initializer_range = r.get_double("initializer_range", c.initializer_range);
  if (!(c.initializer_range > 0)) r.fail("initializer_range", "must be positive");
  c.classifier_dropout = r.has("classifier_dropout") ? r.probability("classifier_dropout", 0) : -1;
  const std::string pos = r.get_string("position_embedding_type", "absolute");
  if (pos != "absolute")
    r.fail("position_embedding_type", "\"" + pos + "\" is not supported (only \"absolute\")");
  // BERT as a decoder (causal self-attention, cross-attention) is a different model.
  for (const char* key : {"is_decoder", "add_cross_attention"})
    if (r.get_bool(key, false)) r.fail(key, "is not supported (encoder-only BERT/RoBERTa)");
  c.classification = common::read_classification_config(r);
  return c;
}

}  // namespace models::bert
