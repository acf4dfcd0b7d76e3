// Random sparse masks' config (peft.cpp's own method, peft_type "SPARSE_MASK"; README.md):
// mask_fraction of the entries of each chosen weight matrix train, drawn uniformly at
// random from add_adapter's seed. target_modules picks the matrices (null = all-linear).
#pragma once
#include <string>

#include "engine/core/error.h"
#include "peft/core/config.h"

namespace peft::sparse_mask {

struct SparseMaskConfig : TunerConfig {
  double mask_fraction = 0.01;

  SparseMaskConfig() { peft_type = "SPARSE_MASK"; }
  void fields(ConfigFields& f) override {
    TunerConfig::fields(f);
    f("mask_fraction", mask_fraction);
  }
  void validate() const override {
    if (!(mask_fraction > 0 && mask_fraction <= 1))
      engine::fail<engine::ConfigError>("[", peft_type, "] config field 'mask_fraction' must be in (0, 1], got ",
                                        mask_fraction);
  }
};

}  // namespace peft::sparse_mask
