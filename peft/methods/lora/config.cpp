// LoRA config fields and validation.
#include "peft/methods/lora/config.h"

#include <cmath>

#include "engine/core/error.h"
#include "peft/core/targets.h"

namespace peft::lora {

using engine::ConfigError;

void LoraCommonConfig::fields(ConfigFields& f) {
  TunerConfig::fields(f);
  f("r", r);
  f("lora_alpha", lora_alpha);
  f("lora_dropout", lora_dropout);
  f("fan_in_fan_out", fan_in_fan_out);
  f("bias", bias);
  f("use_rslora", use_rslora);
  f("init_lora_weights", init_lora_weights);
  f("alpha_pattern", alpha_pattern);
  f("use_dora", use_dora);
  f("megatron_config", megatron_config);
  f("megatron_core", megatron_core);
  f("loftq_config", loftq_config);
  f("layer_replication", layer_replication);
}

void LoraConfig::fields(ConfigFields& f) {
  LoraCommonConfig::fields(f);
  f("rank_pattern", rank_pattern);
  f("lora_bias", lora_bias);
  // Written only when set, so files stay identical to PEFT's for plain LoRA.
  if (f.reading() || !quantize_base.empty()) f("quantize_base", quantize_base);
}

void LoraConfig::validate() const {
  auto fail = [&](const std::string& field, const std::string& why) {
    engine::fail<ConfigError>("[", peft_type, "] config field '", field, "' ", why);
  };
  if (r <= 0) fail("r", "must be positive, got " + std::to_string(r));
  if (lora_dropout < 0 || lora_dropout >= 1) fail("lora_dropout", "must be in [0, 1), got " + std::to_string(lora_dropout));
  if (bias != "none" && bias != "all" && bias != "lora_only") fail("bias", "must be none, all or lora_only, got '" + bias + "'");
  for (const auto& [key, rank] : rank_pattern)
    if (rank <= 0 || rank != std::floor(rank)) fail("rank_pattern", "value for '" + key + "' must be a positive integer");
  const json& init = init_lora_weights;
  const bool init_ok = init.is_boolean() ||
                       (init.is_string() && (init == "gaussian" || init == "pissa" || init == "olora" ||
                                             init.get<std::string>().rfind("pissa_niter_", 0) == 0));
  if (!init_ok) fail("init_lora_weights", "must be true, false, \"gaussian\", \"pissa\", \"pissa_niter_<k>\" or \"olora\", got " + init.dump());
  if (!quantize_base.empty() && quantize_base != "nf4" && quantize_base != "int8")
    fail("quantize_base", "must be \"nf4\" or \"int8\", got '" + quantize_base + "'");
  if (!megatron_config.is_null()) fail("megatron_config", "is not supported (no Megatron layers here)");
  if (!layer_replication.is_null()) fail("layer_replication", "is not supported");
  if (loftq_config.is_object() && !loftq_config.empty()) fail("loftq_config", "is not supported (LoftQ init)");
}

int64_t LoraConfig::rank_for(const std::string& module_name) const {
  if (auto key = pattern_key(rank_pattern, module_name)) return static_cast<int64_t>(rank_pattern.at(*key));
  return r;
}

double LoraConfig::alpha_for(const std::string& module_name) const {
  if (auto key = pattern_key(alpha_pattern, module_name)) return alpha_pattern.at(*key);
  return lora_alpha;
}

double LoraConfig::scaling(int64_t rank, double alpha) const {
  return use_rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

}  // namespace peft::lora
