// The interface every architecture implements (BERT, GPT-2, T5 and their heads), in HF's
// terms: a batch in, logits / loss / hidden states out; module and parameter names equal
// HF's `named_parameters()`. Models never include peft headers: methods reach them through
// module names (replace_module) and the named hook sites listed below.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/tensor.h"
#include "engine/nn/layers.h"
#include "engine/nn/module.h"

namespace models {

using engine::Tensor;

// One batch, in the fixtures' (and HF's) schema. Undefined tensors are absent.
struct Batch {
  Tensor input_ids;               // [B,T] i64
  Tensor attention_mask;          // [B,T] 1 = token, 0 = padding
  Tensor token_type_ids;          // [B,T] (BERT)
  Tensor position_ids;            // [B,T] (default: past_length + arange)
  Tensor inputs_embeds;           // [B,T,D], used instead of input_ids (prompt methods)
  Tensor labels;                  // class ids [B], token labels [B,T] (-100 ignored), LM targets
  Tensor decoder_input_ids;       // T5; built from labels (shift right) when absent
  Tensor decoder_attention_mask;  // T5
  Tensor decoder_inputs_embeds;   // T5 prompt methods on the decoder side
};

// The batch with every defined tensor on `device` (a no-op for tensors already there): the
// training, evaluation and generation code collate on the host and move once per batch.
Batch batch_to(const Batch& batch, engine::Device device);

struct ModelOutput {
  Tensor logits, loss;
  Tensor task_loss;          // loss before PEFT regularisers (AdaLoRA); set by peft::PeftModel
  Tensor last_hidden_state;  // decoder's for T5
  Tensor pooler_output;      // BERT with pooler
  std::vector<Tensor> hidden_states;  // embeddings output, then each layer (GPT-2: last after ln_f)
  Tensor encoder_last_hidden_state;   // T5
  std::vector<Tensor> encoder_hidden_states, decoder_hidden_states;  // T5
};

// Keys and values of one attention layer, [B, H, T, d_head].
struct LayerKV {
  Tensor k, v;
};

// Incremental decoding state: self-attention K/V per decoder layer (grown each step) and,
// for T5, the cross-attention K/V computed once from the encoder output.
struct KVCache {
  std::vector<LayerKV> self_attn;
  std::vector<LayerKV> cross_attn;
  int64_t length() const { return self_attn.empty() || !self_attn[0].k.defined() ? 0 : self_attn[0].k.size(2); }
};

struct ForwardOptions {
  bool output_hidden_states = false;
  KVCache* cache = nullptr;  // non-null: use and extend it (generation)
  // Prefix tuning: per-layer key/value prefixes [B, H, P, d_head] prepended to self-attention
  // (T5: the decoder's self-attention only), as earlier positions: they shift position ids
  // and T5's relative positions by P and get ones in the attention mask.
  const std::vector<LayerKV>* prefix = nullptr;
  Tensor encoder_output;  // T5 decoding with a precomputed encoder output [B,S,D]
  Tensor encoder_attention_mask;
};

// Hook sites every architecture exposes on each block module (BertLayer, GPT2Block,
// T5Block's layers), run through engine::nn::Module::site(name, output, input):
inline constexpr const char* kSiteAfterAttention = "after_attention";  // attention output (before residual add/LN)
inline constexpr const char* kSiteAfterFFN = "after_ffn";              // FFN output (before residual add/LN)
inline constexpr const char* kSiteParallelFFN = "parallel_ffn";        // FFN output, with the FFN's input
inline constexpr const char* kSiteInputEmbeds = "input_embeds";        // on the root model: token embeddings

class PretrainedModel : public engine::nn::Module {
 public:
  virtual std::string model_type() const = 0;    // "bert", "gpt2", "t5"
  virtual std::string architecture() const = 0;  // "BertForSequenceClassification", ...
  virtual ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) = 0;
  const nlohmann::json& config() const { return config_; }

  virtual int64_t hidden_size() const = 0;
  virtual int64_t num_layers() const = 0;     // T5: decoder layers count separately
  virtual int64_t num_heads() const = 0;
  virtual int64_t head_dim() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual bool is_encoder_decoder() const { return false; }
  // The token embedding (prompt methods prepend rows to its output).
  virtual engine::nn::Embedding& input_embeddings() = 0;
  // Names of tied parameters, alias -> source (e.g. lm_head.weight -> transformer.wte.weight).
  virtual std::vector<std::pair<std::string, std::string>> tied_weights() const { return {}; }

  // Loading rules (HF's): the base model's key prefix ("bert.", "transformer.", "" for T5),
  // accepted with or without it; head parameters that may be absent from a checkpoint saved
  // by another head class (freshly initialised, reported as a warning); checkpoint keys that
  // belong to other heads or are legacy buffers and are ignored (also reported).
  virtual std::string base_prefix() const { return ""; }
  virtual bool may_be_missing(const std::string& key) const { (void)key; return false; }
  virtual bool may_be_unexpected(const std::string& key) const { (void)key; return false; }

 protected:
  nlohmann::json config_;
};

using ModelPtr = std::shared_ptr<PretrainedModel>;

struct LoadOptions {
  std::string architecture;  // override config.json's "architectures"[0]
  engine::DType dtype = engine::DType::f32;  // compute dtype of the loaded weights
  bool strict = true;
  engine::Device device = engine::Device::cpu();  // where the weights go once loaded (module_to)
};

// Loads an HF checkpoint folder: config.json + model.safetensors | sharded safetensors
// (model.safetensors.index.json) | pytorch_model.bin (restricted unpickler, no code runs).
ModelPtr load_pretrained(const std::filesystem::path& folder, const LoadOptions& options = {});
// A randomly initialised model from a config (HF's init: normal(0, initializer_range) etc.).
ModelPtr create_model(const nlohmann::json& config, const std::string& architecture, uint64_t seed);
// Copies checkpoint tensors into the model by HF key (see PretrainedModel's loading rules);
// strict: one KeyError listing every missing key with its shape, every unexpected key and
// every shape mismatch. `source` names the folder in messages.
void load_weights(PretrainedModel& model, const std::map<std::string, Tensor>& checkpoint, bool strict,
                  const std::string& source);
// Writes config.json + model.safetensors (tied copies omitted, as HF does), atomically.
void save_pretrained(const PretrainedModel& model, const std::filesystem::path& folder);

}  // namespace models
