// FishMask: candidates at attach, the mask at select() (see adapter.h).
#include "peft/methods/fish_mask/adapter.h"

#include "engine/engine.h"
#include "peft/methods/fish_mask/fisher.h"

namespace peft::fish_mask {

void FishMaskAdapter::choose(models::PretrainedModel& model, uint64_t seed) {
  (void)seed;
  candidates_ = selective::linear_weights(model, static_cast<const TunerConfig&>(config()));
}

int64_t FishMaskAdapter::select(const std::function<Tensor()>& loss_of_next_batch, int64_t num_batches) {
  const auto& c = static_cast<const FishMaskConfig&>(config());
  release_entries();  // a fresh choice on θ0 (masks off, so the Fisher grads are dense)
  selective::NamedParams fisher = compute_fisher(candidates_, loss_of_next_batch, num_batches);
  int64_t total = 0;
  std::vector<Tensor> scores;
  for (const auto& [name, f] : fisher) {
    total += f.numel();
    scores.push_back(f);
  }
  std::vector<std::vector<int64_t>> picks = selective::top_k(scores, selective::budget(c.mask_fraction, total));
  for (size_t i = 0; i < candidates_.size(); ++i) train_entries(candidates_[i].first, candidates_[i].second, picks[i]);
  return num_trained_entries();
}

}  // namespace peft::fish_mask
