// AdaLoRA's rank allocator (PEFT's RankAllocator, tuners/adalora/layer.py): keeps a smoothed
// sensitivity score per entry of every A, E, B and, on the budget schedule, zeroes the
// singular values E of the least important (A row, E entry, B column) triplets.
//
//   ipt = |p ⊙ ∇p|;  Ī ← β1·Ī + (1-β1)·ipt;  Ū ← β2·Ū + (1-β2)·|ipt - Ī|;  score = Ī·Ū
//   triplet score of rank i = score(E_i) + mean_j score(A_ij) + mean_k score(B_ki)
//   budget(t) = b_init                                     t <= tinit
//             = b_target + (b_init - b_target)·(1 - (t-tinit)/(T-tfinal-tinit))³   (floored)
//             = b_target                                   t > T - tfinal
// and the triplets scoring at or below the (b_init - budget)-th smallest are masked.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"
#include "peft/methods/adalora/config.h"

namespace peft::adalora {

class AdaLoraLinear;

class RankAllocator {
 public:
  // `layers`: (module path, layer) of one adapter, in model order.
  RankAllocator(const AdaLoraConfig& config, std::string adapter,
                std::vector<std::pair<std::string, AdaLoraLinear*>> layers);

  int64_t init_budget() const { return init_bgt_; }
  int64_t target_budget() const { return target_bgt_; }
  // The budget at `step` and whether ranks are masked then (PEFT's budget_schedule).
  std::pair<int64_t, bool> budget_schedule(int64_t step) const;

  // Updates the scores from the current gradients (steps before T - tfinal) and masks when
  // the schedule says so (or `force`). Returns the rank pattern when a mask was applied:
  // {"<path>.lora_E": kept?} (PEFT's, with the adapter name removed).
  std::optional<json> update_and_allocate(int64_t step, bool force = false);
  // Re-applies a fixed pattern (the final phase: the optimizer would revive masked E).
  void mask_using_rank_pattern(const json& rank_pattern);
  void reset_scores() { ema_.clear(); }

 private:
  struct Ema {
    engine::Tensor ipt, unc;
  };
  void update_scores();
  engine::Tensor score(const std::string& key) const;  // Ī·Ū
  json mask_to_budget(int64_t budget);

  const AdaLoraConfig& config_;
  std::string adapter_;
  std::vector<std::pair<std::string, AdaLoraLinear*>> layers_;
  std::map<std::string, Ema> ema_;  // by "<path>.lora_A" etc.
  int64_t init_bgt_ = 0, target_bgt_ = 0;
};

}  // namespace peft::adalora
