// Typed, validated access to an HF config.json: every value a model reads goes through here,
// so a missing or ill-typed field fails with the field's name and the file.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace models {

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::string source = "config.json")
      : json_(config), source_(std::move(source)) {}

  bool has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }
  int64_t require_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  int64_t positive_int(const std::string& key) const;                    // required, > 0
  int64_t positive_int(const std::string& key, int64_t fallback) const;  // optional, > 0
  double get_double(const std::string& key, double fallback) const;
  double probability(const std::string& key, double fallback) const;    // in [0, 1)
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // Fails naming `key` unless `name` is an activation HF (and the engine) knows.
  void check_activation(const std::string& key, const std::string& name) const;
  // The first of several alternative names that is present (n_embd / hidden_size / d_model).
  int64_t first_int(std::initializer_list<const char*> keys) const;
  const nlohmann::json& json() const { return json_; }
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  const nlohmann::json& json_;
  std::string source_;
};

}  // namespace models
