// (IA)³ config fields, validation and the feed-forward rule.
#include "peft/methods/ia3/config.h"

#include <algorithm>
#include <regex>

#include "engine/core/error.h"

namespace peft::ia3 {

void Ia3Config::fields(ConfigFields& f) {
  TunerConfig::fields(f);
  f("feedforward_modules", feedforward_modules);
  f("fan_in_fan_out", fan_in_fan_out);
  f("init_ia3_weights", init_ia3_weights);
}

void Ia3Config::validate() const {
  using Kind = ModuleSelector::Kind;
  if (feedforward_modules.kind == Kind::all_linear)
    engine::fail<engine::ConfigError>("[IA3] config field 'feedforward_modules' cannot be \"all-linear\"");
  if (feedforward_modules.kind != Kind::list || target_modules.kind != Kind::list) return;  // PEFT checks sets only
  for (const auto& ff : feedforward_modules.names) {
    const auto& t = target_modules.names;
    if (std::find(t.begin(), t.end(), ff) == t.end())
      engine::fail<engine::ConfigError>("[IA3] config field 'feedforward_modules' should be a subset of target_modules: '",
                                        ff, "' is not a target");
  }
}

bool Ia3Config::is_feedforward(const ModuleSelector& feedforward, const std::string& name) {
  if (feedforward.kind == ModuleSelector::Kind::regex) return std::regex_match(name, std::regex(feedforward.regex));
  // A plain suffix test, not a dotted-component one: BERT's "output.dense" also matches
  // "attention.output.dense", so both are feed-forward (PEFT's behaviour, kept).
  for (const auto& entry : feedforward.names)
    if (name.size() >= entry.size() && name.compare(name.size() - entry.size(), entry.size(), entry) == 0) return true;
  return false;
}

}  // namespace peft::ia3
