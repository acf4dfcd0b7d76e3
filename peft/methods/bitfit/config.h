// BitFit's config (peft.cpp's own method, peft_type "BITFIT"; see README.md): PEFT's common
// tuner fields only. target_modules picks the modules whose `bias` trains (null = every
// bias of the model); exclude_modules / layers_to_transform narrow it as for LoRA.
#pragma once
#include "peft/core/config.h"

namespace peft::bitfit {

struct BitFitConfig : TunerConfig {
  BitFitConfig() { peft_type = "BITFIT"; }
};

}  // namespace peft::bitfit
