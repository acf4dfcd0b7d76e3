// (IA)³'s config (peft 0.11.1 IA3Config, tuners/ia3/config.py): field names and defaults as PEFT.
#pragma once
#include <string>

#include "peft/core/config.h"

namespace peft::ia3 {

struct Ia3Config : TunerConfig {
  // Targets whose *input* is scaled (the FFN's second projection); a list (plain suffix
  // match, PEFT's `key.endswith(entry)`) or a regex (full match); null = the model default.
  ModuleSelector feedforward_modules;
  bool fan_in_fan_out = false;  // forced true for GPT-2 Conv1D, as PEFT does (and saved so)
  bool init_ia3_weights = true;  // true: ones (identity start); false: N(0, 1) (tests)

  Ia3Config() { peft_type = "IA3"; }
  void fields(ConfigFields& f) override;
  // ConfigError when feedforward_modules (a list) is not a subset of target_modules (a list).
  void validate() const override;
  // Whether `module_name` is feed-forward, given the resolved feedforward selector.
  static bool is_feedforward(const ModuleSelector& feedforward, const std::string& module_name);
};

}  // namespace peft::ia3
