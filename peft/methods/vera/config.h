// VeRA's config (PEFT's VeraConfig, tuners/vera/config.py): field names and defaults as PEFT.
#pragma once
#include <string>

#include "peft/core/config.h"

namespace peft::vera {

struct VeraConfig : TunerConfig {
  int64_t r = 256;
  int64_t projection_prng_key = 0;  // seeds our projections (torch's RNG stream is not reproduced)
  bool save_projection = true;      // vera_A / vera_B go into the file (required here, see README)
  double vera_dropout = 0.0;
  double d_initial = 0.1;           // λ_d's start; λ_b starts at 0 so ΔW = 0
  bool fan_in_fan_out = false;      // forced true for GPT-2 Conv1D, as PEFT does
  std::string bias = "none";        // only "none" is supported
  bool init_weights = true;

  VeraConfig() { peft_type = "VERA"; }
  void fields(ConfigFields& f) override;
  void validate() const override;
};

}  // namespace peft::vera
