// BOFT's config (peft 0.11.1 BOFTConfig, tuners/boft/config.py): field names and defaults as PEFT.
#pragma once
#include <string>

#include "peft/core/config.h"

namespace peft::boft {

struct BoftConfig : TunerConfig {
  int64_t boft_block_size = 4;          // b: size of each orthogonal block (or 0 and set boft_block_num)
  int64_t boft_block_num = 0;           // blocks per butterfly factor (exclusive with the size)
  int64_t boft_n_butterfly_factor = 1;  // number of butterfly factors m (1 = plain block-diagonal OFT)
  double boft_dropout = 0.0;            // multiplicative dropout: blocks replaced by I in training
  bool fan_in_fan_out = false;          // forced true for GPT-2 Conv1D (saved so)
  std::string bias = "none";            // "none" | "all" | "boft_only"
  bool init_weights = true;             // true: R = I, s = 1; false: N(0, 0.1) / N(1, 0.1) (tests)

  BoftConfig() { peft_type = "BOFT"; }
  void fields(ConfigFields& f) override;
  void validate() const override;
};

}  // namespace peft::boft
