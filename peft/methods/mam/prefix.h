// The prefix-tuning part that MAM and UniPELT share (adapter-hub `PrefixTuning` with
// flat=False): a table [n, D] reparameterised by Linear(D, b) → tanh → Linear(b, 2·L·H·d)
// (prefix_tuning's ProjectedPrefixEncoder), cut into per-layer keys and values [1, H, n, d]
// by prefix_tuning::layer_prefixes. The MLP is kept (and saved) as adapter-hub keeps it.
// The layers are the self-attention layers that take a prefix: every block of BERT / GPT-2,
// T5's decoder blocks (our T5 takes prefixes there only; adapter-hub also prefixes T5's
// encoder and cross-attention).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "peft/core/adapter.h"
#include "peft/methods/prefix_tuning/adapter.h"

namespace peft::mam {

class Prefix {
 public:
  Prefix(const models::PretrainedModel& model, int64_t length, int64_t bottleneck, engine::Generator& gen);
  int64_t length() const { return length_; }
  int64_t layers() const { return layers_; }
  // Per-layer K/V, each [1, H, n, d], differentiable in the encoder's parameters.
  std::vector<models::LayerKV> layer_kv() const;
  // The encoder's parameters under `key_prefix` ("base_model.model.prefix_tuning").
  NamedTensors tensors(const std::string& key_prefix) const;

 private:
  int64_t length_, layers_, heads_;
  std::shared_ptr<prefix_tuning::ProjectedPrefixEncoder> encoder_;
};

// Puts per-layer prefixes into the forward pass: ctx.prefix and n ones in front of the
// (T5: decoder's) attention mask, as PEFT's prefix tuning does.
void apply_prefix(ForwardContext& ctx, std::vector<models::LayerKV> kv, int64_t n, const models::PretrainedModel& model,
                  const std::string& task_type);

}  // namespace peft::mam
