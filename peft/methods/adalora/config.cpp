// AdaLoRA config fields and validation.
#include "peft/methods/adalora/config.h"

#include "engine/core/error.h"

namespace peft::adalora {

using engine::ConfigError;

void AdaLoraConfig::fields(ConfigFields& f) {
  lora::LoraCommonConfig::fields(f);
  f("target_r", target_r);
  f("init_r", init_r);
  f("tinit", tinit);
  f("tfinal", tfinal);
  f("deltaT", deltaT);
  f("beta1", beta1);
  f("beta2", beta2);
  f("orth_reg_weight", orth_reg_weight);
  f("total_step", total_step);
  f("rank_pattern", rank_pattern);
}

void AdaLoraConfig::validate() const {
  auto fail = [&](const std::string& field, const std::string& why) {
    engine::fail<ConfigError>("[", peft_type, "] config field '", field, "' ", why);
  };
  if (init_r < 0) fail("init_r", "must be >= 0, got " + std::to_string(init_r));
  if (target_r < 0) fail("target_r", "must be >= 0, got " + std::to_string(target_r));
  if (lora_dropout < 0 || lora_dropout >= 1) fail("lora_dropout", "must be in [0, 1), got " + std::to_string(lora_dropout));
  if (bias != "none") fail("bias", "must be \"none\" (training biases with AdaLoRA is not supported), got '" + bias + "'");
  if (use_dora) fail("use_dora", "is not supported by ADALORA (as in PEFT)");
  if (loftq_config.is_object() && !loftq_config.empty()) fail("loftq_config", "is not supported by ADALORA (as in PEFT)");
  if (!megatron_config.is_null()) fail("megatron_config", "is not supported");
  if (!layer_replication.is_null()) fail("layer_replication", "is not supported");
  if (!init_lora_weights.is_boolean()) fail("init_lora_weights", "must be true or false, got " + init_lora_weights.dump());
  if (beta1 <= 0 || beta1 >= 1) fail("beta1", "must be in (0, 1), got " + std::to_string(beta1));
  if (beta2 <= 0 || beta2 >= 1) fail("beta2", "must be in (0, 1), got " + std::to_string(beta2));
  if (deltaT <= 0) fail("deltaT", "must be positive, got " + std::to_string(deltaT));
  if (orth_reg_weight < 0) fail("orth_reg_weight", "must be >= 0 (0 turns the regulariser off)");
  if (total_step && *total_step <= 0) fail("total_step", "must be positive, got " + std::to_string(*total_step));
  if (total_step && tinit >= *total_step - tfinal)
    fail("tinit", "leaves no budgeting phase: need tinit < total_step - tfinal (" + std::to_string(tinit) + " >= " +
                      std::to_string(*total_step) + " - " + std::to_string(tfinal) + ")");
  if (!rank_pattern.is_null()) {
    if (!rank_pattern.is_object()) fail("rank_pattern", "must be null or an object of boolean lists");
    for (const auto& [key, mask] : rank_pattern.items())
      if (!mask.is_array()) fail("rank_pattern", "entry '" + key + "' must be a list of booleans");
  }
}

std::optional<int64_t> AdaLoraConfig::pattern_rank(const std::string& module_path) const {
  if (!rank_pattern.is_object()) return std::nullopt;
  auto it = rank_pattern.find(module_path + ".lora_E");
  if (it == rank_pattern.end()) return std::nullopt;
  int64_t kept = 0;
  for (const auto& b : *it) kept += b.get<bool>() ? 1 : 0;
  return kept;
}

}  // namespace peft::adalora
