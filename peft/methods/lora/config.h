// LoRA's config (PEFT's LoraConfig, tuners/lora/config.py): field names and defaults as PEFT.
// LoraCommonConfig holds the fields AdaLoRA's config inherits too (PEFT's AdaLoraConfig
// extends LoraConfig), so both read and write them through one list.
#pragma once
#include <map>
#include <string>

#include "peft/core/config.h"

namespace peft::lora {

struct LoraCommonConfig : TunerConfig {
  int64_t r = 8;
  double lora_alpha = 8;
  double lora_dropout = 0.0;
  bool fan_in_fan_out = false;  // forced true for GPT-2 Conv1D, as PEFT does (and saved so)
  std::string bias = "none";    // "none" | "all" | "lora_only"
  bool use_rslora = false;      // scaling α/√r instead of α/r
  // true (Kaiming-uniform A, zero B) | false (B random too: a non-identity start, for tests)
  // | "gaussian" | "pissa" | "pissa_niter_<k>" | "olora"; kept as JSON (bool or string).
  json init_lora_weights = true;
  std::map<std::string, double> alpha_pattern;  // regex -> alpha
  bool use_dora = false;
  json megatron_config = nullptr;
  std::string megatron_core = "megatron.core";
  json loftq_config = json::object();
  json layer_replication = nullptr;

  void fields(ConfigFields& f) override;
};

struct LoraConfig : LoraCommonConfig {
  std::map<std::string, double> rank_pattern;  // regex -> r
  bool lora_bias = false;  // a trainable bias on lora_B
  // QLoRA (peft.cpp's extension; PEFT gets it from bitsandbytes' quantization_config):
  // "" | "nf4" | "int8" — the frozen base weights of the targets are quantized.
  std::string quantize_base;

  LoraConfig() { peft_type = "LORA"; }
  void fields(ConfigFields& f) override;
  void validate() const override;

  int64_t rank_for(const std::string& module_name) const;
  double alpha_for(const std::string& module_name) const;
  double scaling(int64_t rank, double alpha) const;
};

}  // namespace peft::lora
