// Bottleneck adapters' config (adapter-hub/adapters 1.x `BnConfig`, configuration/adapter_config.py):
// field names and the library's default (`SeqBnConfig`, "pfeiffer") as adapter-hub. The
// presets "houlsby" (double_seq_bn), "pfeiffer" (seq_bn) and "parallel" (par_bn) live in
// peft/core/registry.cpp. Compacter adds its PHM fields (peft/methods/compacter/config.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "peft/core/config.h"

namespace peft::bottleneck {

struct BnConfig : PeftConfig {
  bool mh_adapter = false;      // an adapter after the (self-)attention sub-layer
  bool output_adapter = true;   // an adapter after the feed-forward sub-layer
  double reduction_factor = 16;  // bottleneck = hidden / reduction_factor (at least 1)
  std::string non_linearity = "relu";  // relu | gelu | swish | tanh | gelu_new ...
  // Where the block's own residual and LayerNorm go (see README "Placement"): our sites sit
  // before them, so only the arrangements reachable there are reproduced.
  bool original_ln_before = true;
  bool original_ln_after = true;
  bool residual_before_ln = true;
  bool adapter_residual_before_ln = false;
  bool ln_before = false;  // an adapter LayerNorm on the adapter's input
  bool ln_after = false;   // an adapter LayerNorm on its output
  std::string init_weights = "bert";  // "bert" | "mam_adapter" (zero up: identity) | "houlsby"
  bool is_parallel = false;           // parallel to the FFN (He et al. 2022), input = the FFN's input
  json scaling = 1.0;                 // a number, or "learned" (a trainable scalar starting at 1)
  bool use_gating = false;            // output × mean_t σ(gate(x_t)) (UniPELT)
  double dropout = 0.0;               // on the adapter's output
  std::vector<int64_t> leave_out;     // layer indices without adapters (T5: decoder after encoder)

  BnConfig() { peft_type = "BOTTLENECK"; }
  void fields(ConfigFields& f) override;
  void validate() const override;

  // The bottleneck width for a hidden size.
  int64_t bottleneck_size(int64_t hidden) const;
  bool learned_scaling() const { return scaling.is_string(); }
  double fixed_scaling() const { return scaling.is_number() ? scaling.get<double>() : 1.0; }
};

}  // namespace peft::bottleneck
