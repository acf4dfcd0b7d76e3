// FishMask's config (peft.cpp's own method, peft_type "FISH_MASK"; see README.md): the
// budget (fraction of the chosen matrices' entries, taken globally by Fisher score) and
// how many batches estimate the Fisher information. target_modules picks the matrices
// (null = all-linear).
#pragma once
#include <string>

#include "engine/core/error.h"
#include "peft/core/config.h"

namespace peft::fish_mask {

struct FishMaskConfig : TunerConfig {
  double mask_fraction = 0.005;      // Sung et al.'s headline budget: 0.5% of the parameters
  int64_t num_fisher_batches = 8;   // batches averaged by a trainer that calls select()

  FishMaskConfig() { peft_type = "FISH_MASK"; }
  void fields(ConfigFields& f) override {
    TunerConfig::fields(f);
    f("mask_fraction", mask_fraction);
    f("num_fisher_batches", num_fisher_batches);
  }
  void validate() const override {
    if (!(mask_fraction > 0 && mask_fraction <= 1))
      engine::fail<engine::ConfigError>("[", peft_type, "] config field 'mask_fraction' must be in (0, 1], got ",
                                        mask_fraction);
    if (num_fisher_batches <= 0)
      engine::fail<engine::ConfigError>("[", peft_type, "] config field 'num_fisher_batches' must be positive, got ",
                                        num_fisher_batches);
  }
};

}  // namespace peft::fish_mask
