// MAM's config (He et al. 2022; adapter-hub `MAMConfig` = PrefixTuningConfig(bottleneck_size=800)
// + ParBnConfig()): the parallel-adapter fields of BnConfig with par_bn's defaults, plus the
// prefix's length and MLP width.
#pragma once
#include "peft/methods/bottleneck/config.h"

namespace peft::mam {

struct MamConfig : bottleneck::BnConfig {
  int64_t prefix_length = 30;    // adapter-hub PrefixTuningConfig.prefix_length
  int64_t bottleneck_size = 800; // the prefix MLP's hidden width

  MamConfig() {
    peft_type = "MAM";
    is_parallel = true, reduction_factor = 2, scaling = 4.0, init_weights = "mam_adapter";
    original_ln_before = false;
  }
  void fields(ConfigFields& f) override {
    BnConfig::fields(f);
    f("prefix_length", prefix_length);
    f("bottleneck_size", bottleneck_size);
  }
  void validate() const override;
};

}  // namespace peft::mam
