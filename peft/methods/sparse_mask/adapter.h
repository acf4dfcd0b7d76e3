// Random sparse masks: a seeded uniform choice of round(mask_fraction · numel) entries per
// chosen weight matrix, trained in place through element gradient masks. The baseline
// FishMask is measured against (same budget, no information in the choice).
#pragma once
#include "peft/methods/selective_common/selective_adapter.h"
#include "peft/methods/sparse_mask/config.h"

namespace peft::sparse_mask {

class SparseMaskAdapter : public selective::SelectiveAdapter {
 public:
  using SelectiveAdapter::SelectiveAdapter;

 protected:
  void choose(models::PretrainedModel& model, uint64_t seed) override;
};

}  // namespace peft::sparse_mask
