// MLM and RoBERTa classification heads (see bert_lm_head.h).
#include "models/bert/bert_lm_head.h"

#include "engine/engine.h"
#include "models/common/init.h"

namespace models::bert {
using engine::nn::LayerNorm;
using engine::nn::Linear;

BertPredictionHeadTransform::BertPredictionHeadTransform(const BertConfig& c) : act_(c.hidden_act) {
  register_module("dense", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
  register_module("LayerNorm", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps));
}

Tensor BertPredictionHeadTransform::forward(const Tensor& x) {
  return call("LayerNorm", engine::nn::activation(act_, call("dense", x)));
}

MaskedLMHead::MaskedLMHead(const BertConfig& c) : roberta_(c.is_roberta()) {
  auto decoder = std::make_shared<Linear>(c.hidden_size, c.vocab_size);
  // The head's own parameter first, so named_parameters() lists the shared bias under HF's
  // name (`cls.predictions.bias`, not `...decoder.bias`).
  register_parameter("bias", decoder->param("bias"));
  if (roberta_) {
    register_module("dense", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
    register_module("layer_norm", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps));
  } else {
    register_module("transform", std::make_shared<BertPredictionHeadTransform>(c));
  }
  register_module("decoder", decoder);
}

Tensor MaskedLMHead::forward(const Tensor& x) {
  Tensor h = roberta_ ? call("layer_norm", engine::gelu(call("dense", x)))  // RobertaLMHead: gelu, not hidden_act
                      : call("transform", x);
  return call("decoder", h);  // [B,T,C] -> [B,T,V]
}

BertOnlyMLMHead::BertOnlyMLMHead(const BertConfig& c) {
  register_module("predictions", std::make_shared<MaskedLMHead>(c));
}

RobertaClassificationHead::RobertaClassificationHead(const BertConfig& c) {
  register_module("dense", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
  register_module("dropout", common::make_dropout(c.classifier_dropout_or_hidden()));
  register_module("out_proj", std::make_shared<Linear>(c.hidden_size, c.classification.num_labels));
}

Tensor RobertaClassificationHead::forward(const Tensor& hidden) {
  Tensor x = call("dropout", hidden.select(1, 0));  // <s> token [B,C]
  x = call("dropout", engine::tanh(call("dense", x)));
  return call("out_proj", x);
}

}  // namespace models::bert
