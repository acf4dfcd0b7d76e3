// T5Stack (see t5_stack.h).
#include "models/t5/t5_stack.h"

#include "engine/engine.h"
#include "models/common/attention_utils.h"
#include "models/common/init.h"
#include "models/common/module_list.h"
#include "models/t5/t5_layers.h"

namespace models::t5 {

namespace {

// The self-attention key mask over the cached + new tokens (prefix keys are always attended
// by the op): the caller's mask without the prefix columns peft prepends, or all ones.
Tensor self_attention_mask(const Tensor& mask, int64_t B, int64_t prefix, int64_t keys, engine::Device device) {
  if (mask.defined() && prefix > 0 && mask.dim() == 2 && mask.size(1) == prefix + keys)
    return mask.narrow(1, prefix, keys);  // [B,P+C+T] -> [B,C+T]
  return common::key_padding_mask(mask, B, keys, device);
}

int64_t prefix_length(const ForwardOptions* options) {
  if (!options || !options->prefix || options->prefix->empty()) return 0;
  return (*options->prefix)[0].k.defined() ? (*options->prefix)[0].k.size(2) : 0;
}

}  // namespace

T5Stack::T5Stack(const T5Config& c, std::shared_ptr<engine::nn::Embedding> embed_tokens, bool is_decoder)
    : is_decoder_(is_decoder),
      num_blocks_(is_decoder ? c.num_decoder_layers : c.num_layers),
      num_heads_(c.num_heads),
      d_kv_(c.d_kv) {
  register_module("embed_tokens", std::move(embed_tokens));  // the model's `shared`, one module
  auto blocks = std::make_shared<common::ModuleList>();
  for (int64_t i = 0; i < num_blocks_; ++i) blocks->append(std::make_shared<T5Block>(c, is_decoder, i == 0));
  register_module("block", blocks);
  register_module("final_layer_norm", std::make_shared<T5LayerNorm>(c.d_model, c.layer_norm_epsilon));
  register_module("dropout", common::make_dropout(c.dropout_rate));
}

Tensor T5Stack::forward(const Tensor& embeds, const T5StackInputs& in, std::vector<Tensor>* hidden_states) const {
  const int64_t B = embeds.size(0), T = embeds.size(1);
  KVCache* cache = is_decoder_ && in.options ? in.options->cache : nullptr;
  const int64_t prefix = is_decoder_ ? prefix_length(in.options) : 0;
  const int64_t cached = cache ? cache->length() : 0;
  if (cache) {
    cache->self_attn.resize(size_t(num_blocks_));
    cache->cross_attn.resize(size_t(num_blocks_));
  }
  auto blocks = child_as<common::ModuleList>("block");
  T5BlockArgs args;
  args.self_attn.causal = is_decoder_;
  args.self_attn.mask = self_attention_mask(in.attention_mask, B, prefix, cached + T, embeds.device());  // [B,C+T]
  // Queries sit after the prefix and the cache (HF slices compute_bias(P+C+T, P+C+T) to its
  // last T rows), so the prefix acts as earlier decoder tokens.
  auto block0 = blocks->at<T5Block>(0)->child_as<common::ModuleList>("layer")->at<T5LayerAttention>(0);
  args.self_attn.position_bias = block0->attention()->position_bias(T, prefix + cached + T, prefix + cached);
  if (is_decoder_) {
    const int64_t S = in.encoder_hidden_states.size(1);
    args.cross_attn.key_value_states = in.encoder_hidden_states;
    args.cross_attn.mask = common::key_padding_mask(in.encoder_attention_mask, B, S, embeds.device());  // [B,S]
  }
  Tensor h = call("dropout", embeds);  // [B,T,D]
  for (int64_t i = 0; i < num_blocks_; ++i) {
    if (hidden_states) hidden_states->push_back(h);
    if (is_decoder_ && in.options) args.self_attn.prefix = common::layer_prefix(*in.options, i, num_heads_, d_kv_);
    args.self_attn.cache = cache ? &cache->self_attn[size_t(i)] : nullptr;
    args.cross_attn.cache = cache ? &cache->cross_attn[size_t(i)] : nullptr;
    h = blocks->at<T5Block>(i)->forward(h, args);
  }
  h = call("dropout", call("final_layer_norm", h));
  if (hidden_states) hidden_states->push_back(h);  // HF appends the final output, not block N-1's
  return h;
}

}  // namespace models::t5
