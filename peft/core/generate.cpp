// peft::generate (see generate.h).
#include "peft/core/generate.h"

namespace peft {

models::generation::GenerationOutput generate(PeftModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                              const models::generation::GenerationConfig& config) {
  return models::generation::generate(model.base(), prompts, config,
                                      [&model](const models::Batch& batch, const models::ForwardOptions& options) {
                                        return model.forward(batch, options);
                                      });
}

}  // namespace peft
