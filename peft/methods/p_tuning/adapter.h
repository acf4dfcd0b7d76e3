// P-tuning v1 (Liu et al. 2021, "GPT Understands, Too"): virtual tokens as in prompt tuning,
// produced by a small trainable encoder (MLP or LSTM) over a trainable table.
#pragma once
#include "peft/methods/p_tuning/config.h"
#include "peft/methods/prompt_common/prompt_adapter.h"

namespace peft::p_tuning {

class PTuningAdapter : public prompt::PromptAdapter {
 public:
  using PromptAdapter::PromptAdapter;
  const PromptEncoderConfig& p_tuning_config() const { return static_cast<const PromptEncoderConfig&>(config()); }
  void prepare(ForwardContext& ctx) const override;

 protected:
  std::shared_ptr<prompt::PromptEncoder> make_encoder(models::PretrainedModel& model, engine::Generator& gen) override;
};

}  // namespace peft::p_tuning
