// VeRA config fields and validation.
#include "peft/methods/vera/config.h"

#include "engine/core/error.h"

namespace peft::vera {

void VeraConfig::fields(ConfigFields& f) {
  TunerConfig::fields(f);
  f("r", r);
  f("projection_prng_key", projection_prng_key);
  f("save_projection", save_projection);
  f("vera_dropout", vera_dropout);
  f("d_initial", d_initial);
  f("fan_in_fan_out", fan_in_fan_out);
  f("bias", bias);
  f("init_weights", init_weights);
}

void VeraConfig::validate() const {
  auto fail = [&](const std::string& field, const std::string& why) {
    engine::fail<engine::ConfigError>("[", peft_type, "] config field '", field, "' ", why);
  };
  if (r <= 0) fail("r", "must be positive, got " + std::to_string(r));
  if (vera_dropout < 0 || vera_dropout >= 1) fail("vera_dropout", "must be in [0, 1), got " + std::to_string(vera_dropout));
  if (bias != "none") fail("bias", "must be \"none\" (training biases with VeRA is not supported), got '" + bias + "'");
  // PEFT regenerates unsaved projections from torch's generator seeded by projection_prng_key;
  // we cannot reproduce that stream, so a file without them could not be loaded anywhere.
  if (!save_projection)
    fail("save_projection", "must be true: the shared projections vera_A / vera_B must be saved with the adapter "
                            "(peft.cpp does not reproduce torch's random stream that PEFT would regenerate them from)");
}

}  // namespace peft::vera
