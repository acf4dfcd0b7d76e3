// BOFT config fields and validation.
#include "peft/methods/boft/config.h"

#include "engine/core/error.h"

namespace peft::boft {

void BoftConfig::fields(ConfigFields& f) {
  TunerConfig::fields(f);
  f("boft_block_size", boft_block_size);
  f("boft_block_num", boft_block_num);
  f("boft_n_butterfly_factor", boft_n_butterfly_factor);
  f("boft_dropout", boft_dropout);
  f("fan_in_fan_out", fan_in_fan_out);
  f("bias", bias);
  f("init_weights", init_weights);
}

void BoftConfig::validate() const {
  auto fail = [&](const std::string& field, const std::string& why) {
    engine::fail<engine::ConfigError>("[", peft_type, "] config field '", field, "' ", why);
  };
  if (boft_block_size < 0 || boft_block_num < 0) fail("boft_block_size", "and boft_block_num must not be negative");
  if ((boft_block_size == 0) == (boft_block_num == 0))
    fail("boft_block_size", "or boft_block_num must be set, not both (got " + std::to_string(boft_block_size) + " and " +
                                std::to_string(boft_block_num) + ")");
  if (boft_n_butterfly_factor < 1) fail("boft_n_butterfly_factor", "must be at least 1, got " + std::to_string(boft_n_butterfly_factor));
  if (boft_dropout < 0 || boft_dropout >= 1) fail("boft_dropout", "must be in [0, 1), got " + std::to_string(boft_dropout));
  if (bias != "none" && bias != "all" && bias != "boft_only") fail("bias", "must be none, all or boft_only, got '" + bias + "'");
}

}  // namespace peft::boft
