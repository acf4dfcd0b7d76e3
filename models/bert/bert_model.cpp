// BertModel / RobertaModel (see bert_model.h); transformers 4.33 modeling_bert.py and
// modeling_roberta.py.
#include "models/bert/bert_model.h"

#include "engine/engine.h"
#include "engine/nn/module_device.h"
#include "models/common/attention_utils.h"
#include "models/common/init.h"

namespace models::bert {
using engine::DType;
using engine::nn::Embedding;
using engine::nn::LayerNorm;
using engine::nn::Linear;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

}  // namespace

BertEmbeddings::BertEmbeddings(const BertConfig& c) : c_(c) {
  register_module("word_embeddings", std::make_shared<Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id));
  // RoBERTa's position table also has padding_idx (its pad positions map to that row).
  register_module("position_embeddings", std::make_shared<Embedding>(c.max_position_embeddings, c.hidden_size,
                                                                     c.is_roberta() ? c.pad_token_id : -1));
  register_module("token_type_embeddings", std::make_shared<Embedding>(c.type_vocab_size, c.hidden_size));
  register_module("LayerNorm", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps));
  register_module("dropout", common::make_dropout(c.hidden_dropout_prob));
}

Tensor BertEmbeddings::forward(const Tensor& inputs_embeds, const Tensor& token_type_ids,
                               const Tensor& position_ids) const {
  Tensor h = inputs_embeds + call("token_type_embeddings", token_type_ids);  // [B,T,C]
  h = h + call("position_embeddings", position_ids);                        // + [B|1,T,C]
  return call("dropout", call("LayerNorm", h));
}

Tensor BertEmbeddings::default_position_ids(const Tensor& input_ids, int64_t T, int64_t past) const {
  // Built on the host, then placed on the model's device (that of the position table).
  const engine::Device device = engine::nn::module_device(*child("position_embeddings"));
  if (!c_.is_roberta()) return engine::arange(past, past + T).reshape({1, T}).to(device);
  const int64_t pad = c_.pad_token_id;
  if (!input_ids.defined()) return engine::arange(pad + 1, pad + 1 + T).reshape({1, T}).to(device);
  // (cumsum(ids != pad) + past) * (ids != pad) + pad, row by row.
  const int64_t B = input_ids.size(0);
  std::vector<int64_t> ids = input_ids.to_vector<int64_t>(), pos(ids.size());
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0;
    for (int64_t t = 0; t < T; ++t) {
      const size_t i = size_t(b * T + t);
      const bool real = ids[i] != pad;
      count += real;
      pos[i] = real ? count + past + pad : pad;
    }
  }
  return engine::from_vector(pos, {B, T}).to(device);
}

BertPooler::BertPooler(const BertConfig& c) {
  register_module("dense", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
}

Tensor BertPooler::forward(const Tensor& hidden) const {
  return engine::tanh(call("dense", hidden.select(1, 0)));  // first token [B,C]
}

BertModel::BertModel(const BertConfig& c, const nlohmann::json& config, bool add_pooling_layer)
    : c_(c), pooling_(add_pooling_layer) {
  config_ = config;
  register_module("embeddings", std::make_shared<BertEmbeddings>(c));
  register_module("encoder", std::make_shared<BertEncoder>(c));
  if (pooling_) register_module("pooler", std::make_shared<BertPooler>(c));
}

engine::nn::Embedding& BertModel::input_embeddings() {
  auto emb = std::dynamic_pointer_cast<Embedding>(get("embeddings.word_embeddings"));
  engine::check<engine::ValueError>(emb != nullptr, "[", type_name(),
                                    "] embeddings.word_embeddings is no longer an Embedding (replaced by a wrapper)");
  return *emb;
}

ModelOutput BertModel::forward(const Batch& batch, const ForwardOptions& options) {
  return encode(batch, options, *this);
}

ModelOutput BertModel::encode(const Batch& batch, const ForwardOptions& options,
                              const engine::nn::Module& root) const {
  auto emb = child_as<BertEmbeddings>("embeddings");
  const bool has_ids = batch.input_ids.defined();
  engine::check<engine::ValueError>(has_ids != batch.inputs_embeds.defined(), "[", type_name(),
                                    "] give exactly one of input_ids and inputs_embeds");
  Tensor embeds = has_ids ? emb->call("word_embeddings", batch.input_ids) : batch.inputs_embeds;  // [B,T,C]
  embeds = root.site(kSiteInputEmbeds, embeds);
  const int64_t B = embeds.size(0), T = embeds.size(1), past = common::past_length(options);
  // RoBERTa's positions start after padding_idx, so its tables hold pad + 1 fewer tokens.
  const int64_t max_tokens = c_.max_position_embeddings - (c_.is_roberta() ? c_.pad_token_id + 1 : 0);
  engine::check<engine::ShapeError>(batch.position_ids.defined() || past + T <= max_tokens, "[", type_name(), "] ",
                                    past + T, " positions exceed max_position_embeddings ",
                                    c_.max_position_embeddings);
  Tensor token_types = batch.token_type_ids.defined() ? batch.token_type_ids : engine::zeros({B, T}, DType::i64, embeds.device());
  Tensor positions = batch.position_ids.defined() ? batch.position_ids
                                                  : emb->default_position_ids(has_ids ? batch.input_ids : Tensor{}, T, past);
  ModelOutput out;
  Tensor h = emb->forward(embeds, token_types, positions);  // [B,T,C]
  if (options.output_hidden_states) out.hidden_states.push_back(h);
  // peft prepends ones for the prefix to the mask; the attention op attends prefix keys itself.
  Tensor mask = batch.attention_mask;
  if (mask.defined() && past > 0 && mask.size(1) == past + T) mask = mask.narrow(1, past, T);
  mask = common::key_padding_mask(mask, B, T, embeds.device());
  out.last_hidden_state = child_as<BertEncoder>("encoder")->forward(
      h, mask, options, options.output_hidden_states ? &out.hidden_states : nullptr);
  if (pooling_) out.pooler_output = child_as<BertPooler>("pooler")->forward(out.last_hidden_state);
  return out;
}

bool BertModel::may_be_missing(const std::string& key) const {
  return starts_with(key, "pooler.");  // a checkpoint saved without a pooler (HF initialises it)
}

bool BertModel::may_be_unexpected(const std::string& key) const { return is_foreign_bert_key(key, pooling_); }

bool is_foreign_bert_key(const std::string& key, bool model_has_pooler) {
  if (ends_with(key, "embeddings.position_ids") || ends_with(key, "embeddings.token_type_ids")) return true;
  for (const char* head : {"cls.", "lm_head.", "classifier.", "qa_outputs.", "score."})
    if (starts_with(key, head)) return true;
  if (!model_has_pooler)
    for (const char* pooler : {"pooler.", "bert.pooler.", "roberta.pooler."})
      if (starts_with(key, pooler)) return true;
  return false;
}

}  // namespace models::bert
