// GPT2Model (see gpt2_model.h); transformers 4.33 modeling_gpt2.py GPT2Model.forward.
#include "models/gpt2/gpt2_model.h"

#include "engine/engine.h"
#include "models/common/attention_utils.h"
#include "models/common/init.h"
#include "models/common/module_list.h"
#include "models/gpt2/gpt2_layers.h"

namespace models::gpt2 {
using engine::nn::Embedding;
using engine::nn::LayerNorm;

namespace {

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// The key padding mask over the cached and new keys [B, Tc+T]. HF's mask covers every key
// seen so far; peft's prefix tuning prepends ones for the P prefix keys, which the attention
// op attends by itself, so those columns are dropped.
Tensor self_attention_mask(const Tensor& attention_mask, const ForwardOptions& options, int64_t B, int64_t T,
                           engine::Device device) {
  const int64_t cached = options.cache ? options.cache->length() : 0;
  const int64_t prefix = common::past_length(options) - cached;
  Tensor mask = attention_mask;
  if (mask.defined() && prefix > 0 && mask.dim() == 2 && mask.size(1) == prefix + cached + T)
    mask = mask.narrow(1, prefix, cached + T);
  return common::key_padding_mask(mask, B, cached + T, device);
}

}  // namespace

bool GPT2Base::may_be_unexpected(const std::string& key) const {
  // Pre-4.31 checkpoints saved the causal-mask buffers attn.bias / attn.masked_bias.
  if (ends_with(key, ".attn.bias") || ends_with(key, ".attn.masked_bias")) return true;
  for (const char* head : {"lm_head.", "score.", "multiple_choice_head.", "qa_outputs.", "classifier."})
    if (key.rfind(head, 0) == 0) return true;
  return false;
}

GPT2Model::GPT2Model(const GPT2Config& c, const nlohmann::json& config) : GPT2Base(c, config) {
  register_module("wte", std::make_shared<Embedding>(c.vocab_size, c.n_embd));
  register_module("wpe", std::make_shared<Embedding>(c.n_positions, c.n_embd));
  register_module("drop", common::make_dropout(c.embd_pdrop));
  auto blocks = std::make_shared<common::ModuleList>();
  for (int64_t i = 0; i < c.n_layer; ++i) blocks->append(std::make_shared<GPT2Block>(c, i));
  register_module("h", blocks);
  register_module("ln_f", std::make_shared<LayerNorm>(c.n_embd, c.layer_norm_epsilon));
}

engine::nn::Embedding& GPT2Model::input_embeddings() {
  auto emb = std::dynamic_pointer_cast<Embedding>(child("wte"));
  engine::check<engine::ValueError>(emb != nullptr, "[GPT2Model] wte is no longer an Embedding (replaced by a wrapper)");
  return *emb;
}

ModelOutput GPT2Model::forward(const Batch& batch, const ForwardOptions& options) { return run(batch, options, *this); }

// wte(ids) (or inputs_embeds) + wpe(positions), then dropout: [B,T,C]. Positions default to
// past_length + arange(T), past_length counting the cache and the prefix.
Tensor GPT2Model::embed(const Batch& batch, const ForwardOptions& options, const engine::nn::Module& root) const {
  const bool has_ids = batch.input_ids.defined();
  engine::check<engine::ValueError>(has_ids != batch.inputs_embeds.defined(),
                                    "[GPT2Model] give exactly one of input_ids and inputs_embeds");
  Tensor embeds = has_ids ? call("wte", batch.input_ids) : batch.inputs_embeds;  // [B,T,C]
  embeds = root.site(kSiteInputEmbeds, embeds);
  const int64_t T = embeds.size(1), past = common::past_length(options);
  Tensor positions = batch.position_ids;
  if (!positions.defined()) {
    engine::check<engine::ShapeError>(past + T <= c_.n_positions, "[GPT2Model] ", past + T,
                                      " positions exceed n_positions ", c_.n_positions);
    positions = engine::arange(past, past + T).reshape({1, T}).to(embeds.device());
  }
  return call("drop", embeds + call("wpe", positions));  // [B,T,C] + [B|1,T,C]
}

ModelOutput GPT2Model::run(const Batch& batch, const ForwardOptions& options, const engine::nn::Module& root) const {
  ModelOutput out;
  Tensor h = embed(batch, options, root);  // [B,T,C]
  const int64_t B = h.size(0), T = h.size(1);
  const Tensor mask = self_attention_mask(batch.attention_mask, options, B, T, h.device());
  if (options.cache && int64_t(options.cache->self_attn.size()) < c_.n_layer)
    options.cache->self_attn.resize(size_t(c_.n_layer));
  auto blocks = child_as<common::ModuleList>("h");
  for (int64_t i = 0; i < c_.n_layer; ++i) {
    if (options.output_hidden_states) out.hidden_states.push_back(h);
    LayerKV prefix = common::layer_prefix(options, i, c_.n_head, c_.head_dim());
    LayerKV* cache = options.cache ? &options.cache->self_attn[size_t(i)] : nullptr;
    h = blocks->at<GPT2Block>(i)->forward(h, mask, prefix, cache);
  }
  // HF appends the final hidden state after ln_f (not the last block's raw output).
  out.last_hidden_state = call("ln_f", h);
  if (options.output_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
  return out;
}

}  // namespace models::gpt2
