// AdaLoRA's config (PEFT's AdaLoraConfig, tuners/adalora/config.py): LoraConfig's fields (as
// PEFT writes them; `r` is unused, `init_r` is the starting rank) plus the rank schedule.
#pragma once
#include <optional>
#include <string>

#include "peft/methods/lora/config.h"

namespace peft::adalora {

// LoraCommonConfig's fields as PEFT writes them (`r` is unused: `init_r` is the starting rank;
// only bias "none" is supported; init_lora_weights true: E = 0, A, B ~ N(0, 0.02), false: N(0, 1)).
struct AdaLoraConfig : lora::LoraCommonConfig {
  // ---- AdaLoRA
  int64_t target_r = 8;  // average rank per layer at the end
  int64_t init_r = 12;   // rank per layer at the start
  int64_t tinit = 0;     // steps at the initial budget
  int64_t tfinal = 0;    // steps at the final budget (masks fixed)
  int64_t deltaT = 1;    // steps between two maskings
  double beta1 = 0.85;   // EMA of the sensitivity
  double beta2 = 0.85;   // EMA of its uncertainty
  double orth_reg_weight = 0.5;
  std::optional<int64_t> total_step;  // required to allocate ranks
  // {"<module path>.lora_E": [kept?...]} once ranks were allocated (null before).
  json rank_pattern = nullptr;

  AdaLoraConfig() { peft_type = "ADALORA"; }
  void fields(ConfigFields& f) override;
  void validate() const override;
  // The number of kept ranks of a module per rank_pattern, or nullopt when it has no entry.
  std::optional<int64_t> pattern_rank(const std::string& module_path) const;
};

}  // namespace peft::adalora
