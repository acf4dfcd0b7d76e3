// Diff pruning's config (peft.cpp's own method, peft_type "DIFF_PRUNING"; see README.md).
// Phase 1 (steps < fix_step): δ = z ⊙ w dense on the chosen matrices, z hard-concrete
// gates with an expected-L0 penalty l0_lambda · Σ P(z ≠ 0). At fix_step: keep the
// (1 − target_sparsity) fraction of entries with the largest |δ| (over all matrices),
// then train exactly those entries of W. target_modules picks the matrices (null = all-linear).
#pragma once
#include <string>

#include "engine/core/error.h"
#include "peft/core/config.h"

namespace peft::diff_pruning {

struct DiffPruningConfig : TunerConfig {
  double target_sparsity = 0.995;  // Guo et al.: 0.5% of the entries non-zero
  double l0_lambda = 1.25e-7;      // Guo et al.'s λ (per entry, on the expected L0 norm)
  int64_t fix_step = 1000;         // optimizer step at which the mask is fixed by magnitude
  double log_alpha_init = 5.0;     // gates start open (P(z ≠ 0) ≈ 1); δ starts at 0 since w = 0

  DiffPruningConfig() { peft_type = "DIFF_PRUNING"; }
  void fields(ConfigFields& f) override {
    TunerConfig::fields(f);
    f("target_sparsity", target_sparsity);
    f("l0_lambda", l0_lambda);
    f("fix_step", fix_step);
    f("log_alpha_init", log_alpha_init);
  }
  void validate() const override {
    auto fail = [&](const std::string& field, const std::string& why) {
      engine::fail<engine::ConfigError>("[", peft_type, "] config field '", field, "' ", why);
    };
    if (!(target_sparsity >= 0 && target_sparsity < 1)) fail("target_sparsity", "must be in [0, 1), got " + std::to_string(target_sparsity));
    if (l0_lambda < 0) fail("l0_lambda", "must be >= 0, got " + std::to_string(l0_lambda));
    if (fix_step < 0) fail("fix_step", "must be >= 0, got " + std::to_string(fix_step));
  }
};

}  // namespace peft::diff_pruning
