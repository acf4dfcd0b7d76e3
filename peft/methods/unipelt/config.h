// UniPELT's config (Mao et al. 2022; adapter-hub `UniPELTConfig` = ConfigUnion(
// LoRAConfig(r=8, alpha=2, use_gating=True), PrefixTuningConfig(prefix_length=10,
// use_gating=True), SeqBnConfig(reduction_factor=16, use_gating=True))): BnConfig's fields for
// the bottleneck part (seq_bn defaults, gated), the LoRA part's rank / alpha / targets and the
// prefix part's length / MLP width.
#pragma once
#include "peft/methods/bottleneck/config.h"

namespace peft::unipelt {

struct UnipeltConfig : bottleneck::BnConfig {
  int64_t r = 8;
  double lora_alpha = 2;          // scaling α/r = 0.25
  ModuleSelector target_modules;  // null: PEFT's LoRA defaults (query,value / c_attn / q,v)
  int64_t prefix_length = 10;
  int64_t bottleneck_size = 512;  // the prefix MLP's hidden width

  UnipeltConfig() {
    peft_type = "UNIPELT";
    use_gating = true;
  }
  void fields(ConfigFields& f) override;
  void validate() const override;
};

}  // namespace peft::unipelt
