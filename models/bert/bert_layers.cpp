// BERT encoder blocks (see bert_layers.h). Children are always reached through call("name")
// so PEFT can swap any Linear for a wrapper.
#include "models/bert/bert_layers.h"

#include "engine/engine.h"
#include "engine/ops/attention.h"
#include "models/common/attention_utils.h"
#include "models/common/init.h"
#include "models/common/module_list.h"

namespace models::bert {
using engine::nn::Dropout;
using engine::nn::LayerNorm;
using engine::nn::Linear;

BertSelfAttention::BertSelfAttention(const BertConfig& c) : num_heads_(c.num_attention_heads) {
  register_module("query", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
  register_module("key", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
  register_module("value", std::make_shared<Linear>(c.hidden_size, c.hidden_size));
  register_module("dropout", common::make_dropout(c.attention_probs_dropout_prob));
}

Tensor BertSelfAttention::forward(const Tensor& hidden, const Tensor& mask, const LayerKV& prefix) const {
  Tensor q = common::split_heads(call("query", hidden), num_heads_);  // [B,T,C] -> [B,H,T,D]
  Tensor k = common::split_heads(call("key", hidden), num_heads_);
  Tensor v = common::split_heads(call("value", hidden), num_heads_);
  auto dropout = child_as<Dropout>("dropout");
  engine::AttentionOptions opt;
  opt.mask = mask;                          // [B,T]; prefix keys are always attended (peft's ones)
  opt.prefix_k = prefix.k, opt.prefix_v = prefix.v;  // [B,H,P,D]
  opt.dropout_p = is_training() ? dropout->p() : 0.0;
  opt.generator = &dropout->generator();
  return common::merge_heads(engine::scaled_dot_product_attention(q, k, v, opt));  // [B,T,C]
}

BertResidualOutput::BertResidualOutput(const BertConfig& c, int64_t in_features, std::string type)
    : type_(std::move(type)) {
  register_module("dense", std::make_shared<Linear>(in_features, c.hidden_size));
  register_module("LayerNorm", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps));
  register_module("dropout", common::make_dropout(c.hidden_dropout_prob));
}

Tensor BertResidualOutput::forward(const Tensor& x, const Tensor& residual, const engine::nn::Module& block,
                                   const Tensor& site_input) const {
  Tensor h = call("dropout", call("dense", x));  // [B,T,C]
  if (site_input.defined()) {
    h = block.site(kSiteAfterFFN, h);
    h = block.site(kSiteParallelFFN, h, site_input);
  } else {
    h = block.site(kSiteAfterAttention, h);
  }
  return call("LayerNorm", h + residual);
}

BertAttention::BertAttention(const BertConfig& c) {
  register_module("self", std::make_shared<BertSelfAttention>(c));
  register_module("output", std::make_shared<BertResidualOutput>(c, c.hidden_size, "BertSelfOutput"));
}

Tensor BertAttention::forward(const Tensor& hidden, const Tensor& mask, const LayerKV& prefix,
                              const engine::nn::Module& block) const {
  Tensor context = child_as<BertSelfAttention>("self")->forward(hidden, mask, prefix);
  return child_as<BertResidualOutput>("output")->forward(context, hidden, block, Tensor{});
}

BertIntermediate::BertIntermediate(const BertConfig& c) : act_(c.hidden_act) {
  register_module("dense", std::make_shared<Linear>(c.hidden_size, c.intermediate_size));
}

Tensor BertIntermediate::forward(const Tensor& x) const {
  return engine::nn::activation(act_, call("dense", x));  // [B,T,C] -> [B,T,I]
}

BertLayer::BertLayer(const BertConfig& c) {
  register_module("attention", std::make_shared<BertAttention>(c));
  register_module("intermediate", std::make_shared<BertIntermediate>(c));
  register_module("output", std::make_shared<BertResidualOutput>(c, c.intermediate_size, "BertOutput"));
}

Tensor BertLayer::forward(const Tensor& hidden, const Tensor& mask, const LayerKV& prefix) const {
  Tensor attn = child_as<BertAttention>("attention")->forward(hidden, mask, prefix, *this);  // [B,T,C]
  Tensor inner = child_as<BertIntermediate>("intermediate")->forward(attn);                 // [B,T,I]
  return child_as<BertResidualOutput>("output")->forward(inner, attn, *this, attn);
}

BertEncoder::BertEncoder(const BertConfig& c)
    : num_layers_(c.num_hidden_layers), num_heads_(c.num_attention_heads), head_dim_(c.head_dim()) {
  auto layers = std::make_shared<common::ModuleList>();
  for (int64_t i = 0; i < num_layers_; ++i) layers->append(std::make_shared<BertLayer>(c));
  register_module("layer", layers);
}

Tensor BertEncoder::forward(const Tensor& hidden, const Tensor& mask, const ForwardOptions& options,
                            std::vector<Tensor>* hidden_states) const {
  Tensor h = hidden;
  auto layers = child_as<common::ModuleList>("layer");
  for (int64_t i = 0; i < num_layers_; ++i) {
    LayerKV prefix = common::layer_prefix(options, i, num_heads_, head_dim_);
    h = layers->at<BertLayer>(i)->forward(h, mask, prefix);
    if (hidden_states) hidden_states->push_back(h);
  }
  return h;
}

}  // namespace models::bert
