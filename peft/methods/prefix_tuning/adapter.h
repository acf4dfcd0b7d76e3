// Prefix tuning (Li & Liang 2021): trainable keys and values for n virtual positions in front
// of every self-attention layer (T5: the decoder's), optionally produced by an MLP over a
// smaller table (prefix_projection). The model sees them as ForwardOptions::prefix.
#pragma once
#include <vector>

#include "peft/methods/prefix_tuning/config.h"
#include "peft/methods/prompt_common/prompt_adapter.h"

namespace peft::prefix_tuning {

// PEFT's PrefixEncoder with prefix_projection: embedding [n, D], transform = Linear(D, h),
// Tanh, Linear(h, 2·L·D) at transform.{0,2}.
class ProjectedPrefixEncoder : public prompt::PromptEncoder {
 public:
  ProjectedPrefixEncoder(int64_t rows, int64_t dim, int64_t hidden, int64_t width, engine::Generator& gen);
  std::string type_name() const override { return "PrefixEncoder"; }
  Tensor table() const override;  // [n, 2·L·D]
  bool reparameterized() const override { return true; }
};

// peft_model.py::get_prompt's layout: the table [n, 2L·D] viewed [n, 2L, H, d] and permuted to
// [2L, H, n, d]; with S submodules the 2L blocks are repeated S times and cut in groups of
// 2S, so layer l takes K = block (2S·l mod 2L) and V = the next one (S = 2: T5's decoder
// self-attention; PEFT drops the cross-attention pair). Each K/V is [1, H, n, d].
std::vector<models::LayerKV> layer_prefixes(const Tensor& table, int64_t layers, int64_t heads, int64_t submodules);

class PrefixTuningAdapter : public prompt::PromptAdapter {
 public:
  using PromptAdapter::PromptAdapter;
  const PrefixTuningConfig& prefix_config() const { return static_cast<const PrefixTuningConfig&>(config()); }
  void prepare(ForwardContext& ctx) const override;

 protected:
  std::shared_ptr<prompt::PromptEncoder> make_encoder(models::PretrainedModel& model, engine::Generator& gen) override;
};

}  // namespace peft::prefix_tuning
