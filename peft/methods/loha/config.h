// LoHa's config (PEFT's LoHaConfig, tuners/loha/config.py): the LyCORIS fields, peft_type LOHA.
#pragma once
#include "peft/methods/loha/lycoris.h"

namespace peft::loha {

struct LohaConfig : lycoris::LycorisConfig {
  LohaConfig() { peft_type = "LOHA"; }
};

}  // namespace peft::loha
