// LN tuning's config (peft 0.11.1 LNTuningConfig, tuners/ln_tuning/config.py): only the
// common tuner fields (target_modules, exclude_modules, modules_to_save).
#pragma once
#include "peft/core/config.h"

namespace peft::ln_tuning {

struct LnTuningConfig : TunerConfig {
  LnTuningConfig() { peft_type = "LN_TUNING"; }
};

}  // namespace peft::ln_tuning
