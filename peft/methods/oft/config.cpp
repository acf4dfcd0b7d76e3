// OFT config fields and validation.
#include "peft/methods/oft/config.h"

#include <cmath>

#include "engine/core/error.h"
#include "peft/core/targets.h"

namespace peft::oft {

void OftConfig::fields(ConfigFields& f) {
  TunerConfig::fields(f);
  f("r", r);
  f("module_dropout", module_dropout);
  f("init_weights", init_weights);
  f("coft", coft);
  f("eps", eps);
  f("block_share", block_share);
  f("rank_pattern", rank_pattern);
  f("alpha_pattern", alpha_pattern);
}

void OftConfig::validate() const {
  auto fail = [&](const std::string& field, const std::string& why) {
    engine::fail<engine::ConfigError>("[", peft_type, "] config field '", field, "' ", why);
  };
  if (r <= 0) fail("r", "must be positive, got " + std::to_string(r));
  if (module_dropout < 0 || module_dropout >= 1) fail("module_dropout", "must be in [0, 1), got " + std::to_string(module_dropout));
  if (eps <= 0) fail("eps", "must be positive, got " + std::to_string(eps));
  for (const auto& [key, rank] : rank_pattern)
    if (rank <= 0 || rank != std::floor(rank)) fail("rank_pattern", "value for '" + key + "' must be a positive integer");
}

int64_t OftConfig::rank_for(const std::string& module_name) const {
  if (auto key = pattern_key(rank_pattern, module_name)) return static_cast<int64_t>(rank_pattern.at(*key));
  return r;
}

}  // namespace peft::oft
