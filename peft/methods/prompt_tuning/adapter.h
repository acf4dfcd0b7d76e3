// Prompt tuning (Lester et al. 2021): n trainable virtual-token embeddings in front of the
// input embeddings; nothing inside the model changes.
#pragma once
#include "peft/methods/prompt_common/prompt_adapter.h"
#include "peft/methods/prompt_tuning/config.h"

namespace peft::prompt_tuning {

class PromptTuningAdapter : public prompt::PromptAdapter {
 public:
  using PromptAdapter::PromptAdapter;
  const PromptTuningConfig& prompt_tuning_config() const { return static_cast<const PromptTuningConfig&>(config()); }
  void prepare(ForwardContext& ctx) const override;

 protected:
  std::shared_ptr<prompt::PromptEncoder> make_encoder(models::PretrainedModel& model, engine::Generator& gen) override;

 private:
  // The token ids TEXT / SAMPLE_VOCAB copy the word embeddings of (rows of them); empty for RANDOM.
  std::vector<int64_t> init_token_ids(const models::PretrainedModel& model, int64_t rows, engine::Generator& gen) const;
};

}  // namespace peft::prompt_tuning
