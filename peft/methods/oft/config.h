// OFT's config (peft 0.11.1 OFTConfig, tuners/oft/config.py): field names and defaults as PEFT.
#pragma once
#include <map>
#include <string>

#include "peft/core/config.h"

namespace peft::oft {

struct OftConfig : TunerConfig {
  int64_t r = 8;                 // number of diagonal blocks (block size = ceil(out / r))
  double module_dropout = 0.0;   // probability of skipping the whole adapter in a training step
  bool init_weights = true;      // true: R = I (oft_r = 0); false: Kaiming-uniform (tests)
  bool coft = false;             // constrained OFT: keep each block within an eps-ball of 0
  double eps = 6e-5;             // COFT's radius, scaled by the block area per layer
  bool block_share = false;      // one block shared by all r positions
  std::map<std::string, double> rank_pattern;   // regex -> r (LycorisConfig)
  std::map<std::string, double> alpha_pattern;  // kept for the file; OFT has no alpha

  OftConfig() { peft_type = "OFT"; }
  void fields(ConfigFields& f) override;
  void validate() const override;
  int64_t rank_for(const std::string& module_name) const;
};

}  // namespace peft::oft
