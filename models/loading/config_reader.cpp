#include "models/loading/config_reader.h"

#include "engine/core/error.h"
#include "engine/nn/layers.h"

namespace models {

void ConfigReader::fail(const std::string& key, const std::string& problem) const {
  engine::fail<engine::ConfigError>(source_, ": \"", key, "\" ", problem);
}

int64_t ConfigReader::require_int(const std::string& key) const {
  if (!has(key)) fail(key, "is missing");
  if (!json_[key].is_number_integer()) fail(key, "must be an integer, got " + json_[key].dump());
  return json_[key].get<int64_t>();
}

int64_t ConfigReader::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? require_int(key) : fallback;
}

int64_t ConfigReader::positive_int(const std::string& key) const {
  int64_t v = require_int(key);
  if (v <= 0) fail(key, "must be positive, got " + std::to_string(v));
  return v;
}

int64_t ConfigReader::positive_int(const std::string& key, int64_t fallback) const {
  return has(key) ? positive_int(key) : fallback;
}

double ConfigReader::get_double(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  if (!json_[key].is_number()) fail(key, "must be a number, got " + json_[key].dump());
  return json_[key].get<double>();
}

double ConfigReader::probability(const std::string& key, double fallback) const {
  double p = get_double(key, fallback);
  if (p < 0 || p >= 1) fail(key, "must be in [0, 1), got " + std::to_string(p));
  return p;
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!json_[key].is_boolean()) fail(key, "must be true or false, got " + json_[key].dump());
  return json_[key].get<bool>();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!json_[key].is_string()) fail(key, "must be a string, got " + json_[key].dump());
  return json_[key].get<std::string>();
}

void ConfigReader::check_activation(const std::string& key, const std::string& name) const {
  try {  // probed once through the engine, so a typo fails at load time, not mid-forward
    engine::nn::activation(name, engine::zeros({1}));
  } catch (const engine::Error&) {
    fail(key, "names an unknown activation \"" + name + "\"");
  }
}

int64_t ConfigReader::first_int(std::initializer_list<const char*> keys) const {
  for (const char* k : keys)
    if (has(k)) return positive_int(k);
  std::string names;
  for (const char* k : keys) names += std::string(names.empty() ? "" : " / ") + k;
  engine::fail<engine::ConfigError>(source_, ": none of ", names, " is set");
}

}  // namespace models
