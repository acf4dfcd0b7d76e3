// Text generation with a PeftModel: models::generation::generate with every step run through
// PeftModel::forward, so the active adapters apply as in training (layer methods through their
// wrapped layers; prompt tuning / P-tuning put their virtual tokens in front of the prompt on
// the first step, where they enter the KV cache (T5: the encoder output); prefix tuning gives
// every step its K/V prefix, which the cache does not hold).
#pragma once
#include <vector>

#include "models/generation/generate.h"
#include "peft/core/peft_model.h"

namespace peft {

models::generation::GenerationOutput generate(PeftModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                              const models::generation::GenerationConfig& config);

}  // namespace peft
