// AdaLoRA's config (PEFT's AdaLoraConfig, tuners/adalora/config.py): LoraConfig's fields (as
// PEFT writes them; `r` is unused, `init_r` is the starting rank) plus the rank schedule.
#pragma once
#include <optional>
#include <string>

#include "peft/core/config.h"

namespace peft::adalora {

struct AdaLoraConfig : TunerConfig {
  // ---- LoraConfig's fields
  int64_t r = 8;  // unused by AdaLoRA (PEFT keeps it in the file)
  double lora_alpha = 8;
  double lora_dropout = 0.0;
  bool fan_in_fan_out = false;  // forced true for GPT-2 Conv1D, as PEFT does
  std::string bias = "none";    // only "none" is supported
  bool use_rslora = false;
  json init_lora_weights = true;  // true: E = 0, A, B ~ N(0, 0.02); false: all N(0, 1)
  std::map<std::string, double> alpha_pattern;
  bool use_dora = false;
  json megatron_config = nullptr;
  std::string megatron_core = "megatron.core";
  json loftq_config = json::object();
  json layer_replication = nullptr;
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
