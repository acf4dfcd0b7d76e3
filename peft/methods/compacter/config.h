// Compacter's config (adapter-hub `CompacterPlusPlusConfig` / `CompacterConfig`): a bottleneck
// config whose projections are PHM layers. The COMPACTER defaults are Compacter++ (one adapter
// after the FFN, as Pfeiffer); the "compacter" preset places two per block, as Houlsby.
#pragma once
#include "peft/methods/bottleneck/config.h"

namespace peft::compacter {

struct CompacterConfig : bottleneck::BnConfig {
  bool phm_layer = true;
  int64_t phm_dim = 4;           // n: W = Σᵢ₌₁ⁿ Aᵢ ⊗ Bᵢ
  int64_t phm_rank = 1;          // rank of each Bᵢ = sᵢ·tᵢᵀ (factorized_phm_W)
  bool factorized_phm_W = true;  // Bᵢ = W_left[i] · W_right[i]; false: a full Bᵢ
  bool shared_phm_rule = true;   // one A (phm_rule [n,n,n]) for every layer of the adapter
  bool factorized_phm_rule = false;
  bool shared_W_phm = false;
  bool learn_phm = true;         // whether the shared rule trains
  std::string phm_c_init = "normal";  // rule init: N(0, phm_init_range) | "uniform" U(-1, 1)
  double phm_init_range = 1e-4;
  std::string hypercomplex_nonlinearity = "glorot-uniform";
  bool phm_bias = true;

  CompacterConfig() {
    peft_type = "COMPACTER";
    reduction_factor = 32;
    non_linearity = "gelu";
  }
  void fields(ConfigFields& f) override;
  void validate() const override;
};

}  // namespace peft::compacter
