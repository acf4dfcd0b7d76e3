// FishMask (Sung et al. 2021, "Training Neural Networks with Fixed Sparse Masks"): the
// entries with the largest empirical Fisher information across the chosen matrices train,
// in place, through element gradient masks. Attaching trains nothing yet: call select()
// with a few batches of task data before building the optimizer (or load a saved mask).
//
//   auto& fm = static_cast<fish_mask::FishMaskAdapter&>(peft.add_adapter("default", config));
//   fm.select([&] { return peft.forward(next_batch()).loss; }, 8);
//   AdamW opt(peft.trainable_parameters());   // state for the masked entries only
#pragma once
#include <functional>

#include "peft/methods/fish_mask/config.h"
#include "peft/methods/selective_common/entries.h"
#include "peft/methods/selective_common/selective_adapter.h"

namespace peft::fish_mask {

class FishMaskAdapter : public selective::SelectiveAdapter {
 public:
  using SelectiveAdapter::SelectiveAdapter;
  // Estimates the Fisher information over `num_batches` losses and trains the top
  // round(mask_fraction · N) entries (N = all entries of the chosen matrices). Replaces an
  // earlier selection. Returns the number of entries chosen.
  int64_t select(const std::function<Tensor()>& loss_of_next_batch, int64_t num_batches);

 protected:
  void choose(models::PretrainedModel& model, uint64_t seed) override;

 private:
  selective::NamedParams candidates_;
};

}  // namespace peft::fish_mask
