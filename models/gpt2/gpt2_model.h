// GPT2Model: token + position embeddings -> blocks -> ln_f, the base every GPT-2 head wraps
// under the name "transformer", as HF does. Module names: wte, wpe, drop, h.{i}, ln_f.
#pragma once
#include "models/gpt2/gpt2_config.h"
#include "models/model.h"

namespace models::gpt2 {

// The PretrainedModel queries shared by GPT2Model and its heads.
class GPT2Base : public PretrainedModel {
 public:
  std::string model_type() const override { return "gpt2"; }
  std::string architecture() const override { return type_name(); }
  int64_t hidden_size() const override { return c_.n_embd; }
  int64_t num_layers() const override { return c_.n_layer; }
  int64_t num_heads() const override { return c_.n_head; }
  int64_t head_dim() const override { return c_.head_dim(); }
  int64_t vocab_size() const override { return c_.vocab_size; }
  std::string base_prefix() const override { return "transformer."; }
  // Legacy attention buffers and other heads' parameters (HF's _keys_to_ignore_on_load_*).
  bool may_be_unexpected(const std::string& key) const override;
  const GPT2Config& gpt2_config() const { return c_; }

 protected:
  GPT2Base(const GPT2Config& c, const nlohmann::json& config) : c_(c) { config_ = config; }
  GPT2Config c_;
};

class GPT2Model : public GPT2Base {
 public:
  GPT2Model(const GPT2Config& c, const nlohmann::json& config);
  std::string type_name() const override { return "GPT2Model"; }
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
  // The forward pass with `root` (the outermost model) owning the input_embeds hook site.
  ModelOutput run(const Batch& batch, const ForwardOptions& options, const engine::nn::Module& root) const;
  engine::nn::Embedding& input_embeddings() override;

 private:
  Tensor embed(const Batch& batch, const ForwardOptions& options, const engine::nn::Module& root) const;
};

}  // namespace models::gpt2
