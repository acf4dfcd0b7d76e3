// BERT / RoBERTa task heads (see bert_heads.h); transformers 4.33 modeling_bert.py and
// modeling_roberta.py.
#include "models/bert/bert_heads.h"

#include "engine/engine.h"
#include "models/bert/bert_lm_head.h"
#include "models/common/init.h"
#include "models/common/loss.h"
#include "models/loading/config_reader.h"

namespace models::bert {
using engine::nn::Linear;

BertHeadModel::BertHeadModel(const BertConfig& c, const nlohmann::json& config, bool pooler)
    : c_(c), pooler_(pooler) {
  config_ = config;
}

// Called first by each head's constructor: registering needs the final type_name().
void BertHeadModel::register_base() {
  register_module(c_.model_type, std::make_shared<BertModel>(c_, config_, pooler_));
}

BertModel& BertHeadModel::base() const { return *child_as<BertModel>(c_.model_type); }

ModelOutput BertHeadModel::run_base(const Batch& batch, const ForwardOptions& options) const {
  return base().encode(batch, options, *this);
}

bool BertHeadModel::may_be_missing(const std::string& key) const {
  return key.rfind(base_prefix(), 0) != 0 || key.rfind(base_prefix() + "pooler.", 0) == 0;
}

BertForSequenceClassification::BertForSequenceClassification(const BertConfig& c, const nlohmann::json& config)
    : BertHeadModel(c, config, /*pooler=*/!c.is_roberta()) {
  register_base();
  if (c.is_roberta()) {
    register_module("classifier", std::make_shared<RobertaClassificationHead>(c));
  } else {
    register_module("dropout", common::make_dropout(c.classifier_dropout_or_hidden()));
    register_module("classifier", std::make_shared<Linear>(c.hidden_size, c.classification.num_labels));
  }
}

ModelOutput BertForSequenceClassification::forward(const Batch& batch, const ForwardOptions& options) {
  ModelOutput out = run_base(batch, options);
  out.logits = c_.is_roberta() ? call("classifier", out.last_hidden_state)              // [B,T,C] -> [B,L]
                               : call("classifier", call("dropout", out.pooler_output));  // [B,C] -> [B,L]
  out.pooler_output = Tensor{};  // HF's SequenceClassifierOutput has no pooler output
  if (batch.labels.defined())
    out.loss = common::sequence_classification_loss(out.logits, batch.labels, c_.classification);
  return out;
}

BertForTokenClassification::BertForTokenClassification(const BertConfig& c, const nlohmann::json& config)
    : BertHeadModel(c, config, /*pooler=*/false) {
  register_base();
  register_module("dropout", common::make_dropout(c.classifier_dropout_or_hidden()));
  register_module("classifier", std::make_shared<Linear>(c.hidden_size, c.classification.num_labels));
}

ModelOutput BertForTokenClassification::forward(const Batch& batch, const ForwardOptions& options) {
  ModelOutput out = run_base(batch, options);
  out.logits = call("classifier", call("dropout", out.last_hidden_state));  // [B,T,L]
  if (batch.labels.defined()) out.loss = common::token_cross_entropy(out.logits, batch.labels);
  return out;
}

BertForMaskedLM::BertForMaskedLM(const BertConfig& c, const nlohmann::json& config)
    : BertHeadModel(c, config, /*pooler=*/false),
      head_(c.is_roberta() ? "lm_head" : "cls.predictions"),
      tied_(ConfigReader(config).get_bool("tie_word_embeddings", true)) {
  register_base();
  if (c.is_roberta())
    register_module("lm_head", std::make_shared<MaskedLMHead>(c));
  else
    register_module("cls", std::make_shared<BertOnlyMLMHead>(c));
  // HF ties the decoder to the input embedding (PreTrainedModel.tie_weights): one tensor.
  if (tied_) get(head_ + ".decoder")->param("weight") = input_embeddings().weight();
}

ModelOutput BertForMaskedLM::forward(const Batch& batch, const ForwardOptions& options) {
  ModelOutput out = run_base(batch, options);
  out.logits = call(c_.is_roberta() ? "lm_head" : "cls", out.last_hidden_state);  // [B,T,V]
  if (batch.labels.defined()) out.loss = common::token_cross_entropy(out.logits, batch.labels);
  return out;
}

std::vector<std::pair<std::string, std::string>> BertForMaskedLM::tied_weights() const {
  std::vector<std::pair<std::string, std::string>> tied = {{head_ + ".decoder.bias", head_ + ".bias"}};
  if (tied_) tied.emplace_back(head_ + ".decoder.weight", base_prefix() + "embeddings.word_embeddings.weight");
  return tied;
}

}  // namespace models::bert
