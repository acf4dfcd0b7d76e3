// Partial freezing ("part parameter tuning"): whole base parameters train in place — the
// head, the top k blocks and/or parameters matching name regexes (see config.h).
#pragma once
#include "peft/methods/partial/config.h"
#include "peft/methods/selective_common/selective_adapter.h"

namespace peft::partial {

class PartialAdapter : public selective::SelectiveAdapter {
 public:
  using SelectiveAdapter::SelectiveAdapter;

 protected:
  void choose(models::PretrainedModel& model, uint64_t seed) override;
};

}  // namespace peft::partial
