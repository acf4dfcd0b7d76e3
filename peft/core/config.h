// Adapter configs: one small struct per method with PEFT's field names and defaults, read from
// and written to `adapter_config.json` through one `fields()` function per struct, so the
// reader and the writer cannot drift apart.
//
//   struct LoraConfig : TunerConfig {
//     int64_t r = 8; double lora_alpha = 8; ...
//     void fields(ConfigFields& f) override { TunerConfig::fields(f); f("r", r); f("lora_alpha", lora_alpha); }
//   };
//
// Unknown keys in a file are ignored with a warning (newer PEFT's behaviour), wrong types and
// invalid values throw engine::ConfigError naming the method and the field.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace peft {

using json = nlohmann::json;

// PEFT's `target_modules` / `exclude_modules`: a list of names (exact or ".suffix" match), one
// regex (full match) or the shorthand "all-linear". Null (`kind == none`) means "use the
// model type's default" for targets and "nothing" for exclusions.
struct ModuleSelector {
  enum class Kind { none, list, regex, all_linear };
  Kind kind = Kind::none;
  std::vector<std::string> names;  // kind == list
  std::string regex;               // kind == regex

  static ModuleSelector list_of(std::vector<std::string> names);
  bool is_set() const { return kind != Kind::none; }
  json to_json() const;
  static ModuleSelector from_json(const json& j, const std::string& where);
};

// Visits every field of a config, either reading it from JSON or writing it to JSON.
class ConfigFields {
 public:
  // Reading: `j` is the file's object; `where` names the method in messages ("LORA").
  ConfigFields(const json& j, std::string where);
  // Writing into `out`.
  explicit ConfigFields(json& out);

  bool reading() const { return in_ != nullptr; }
  void operator()(const std::string& key, int64_t& v);
  void operator()(const std::string& key, double& v);
  void operator()(const std::string& key, bool& v);
  void operator()(const std::string& key, std::string& v);
  void operator()(const std::string& key, std::optional<std::string>& v);
  void operator()(const std::string& key, std::optional<int64_t>& v);
  void operator()(const std::string& key, std::vector<std::string>& v);
  void operator()(const std::string& key, std::optional<std::vector<std::string>>& v);
  void operator()(const std::string& key, std::vector<int64_t>& v);
  void operator()(const std::string& key, std::map<std::string, double>& v);
  void operator()(const std::string& key, ModuleSelector& v);
  void operator()(const std::string& key, json& v);  // free-form (kept as it is)
  // Keys of the file that no field visited (reading only).
  std::vector<std::string> unknown_keys() const;

 private:
  const json* find(const std::string& key);
  template <typename T>
  void scalar(const std::string& key, T& v, const char* type_name);
  [[noreturn]] void bad_type(const std::string& key, const char* expected) const;

  const json* in_ = nullptr;
  json* out_ = nullptr;
  std::string where_;
  std::set<std::string> seen_;
};

// Fields every method has (PEFT's PeftConfig).
struct PeftConfig {
  virtual ~PeftConfig() = default;
  std::string peft_type;                    // "LORA", "IA3", ...
  std::optional<std::string> task_type;     // "SEQ_CLS", "CAUSAL_LM", "SEQ_2_SEQ_LM", ...; null
  std::optional<std::string> base_model_name_or_path;
  std::optional<std::string> revision;
  bool inference_mode = false;
  // Trainable copies of whole modules saved with the adapter (e.g. the classifier head).
  std::optional<std::vector<std::string>> modules_to_save;

  virtual void fields(ConfigFields& f);
  // Checks values after reading or before use; throws engine::ConfigError naming the field.
  virtual void validate() const {}
  // Prompt-learning methods (prompt/p-tuning/prefix) change the batch, not the layers.
  virtual bool is_prompt_learning() const { return false; }

  json to_json() const;  // every field, as PEFT writes it (sorted keys when dumped)
};

// Methods that inject into named modules (LoRA family, IA3, LN tuning, adapters...).
struct TunerConfig : PeftConfig {
  ModuleSelector target_modules;
  ModuleSelector exclude_modules;
  std::vector<int64_t> layers_to_transform;          // empty = every layer (null in the file)
  std::optional<std::vector<std::string>> layers_pattern;  // a string in the file is one pattern
  void fields(ConfigFields& f) override;
};

// Reads `adapter_config.json` into the method's config struct (registry lookup by
// `peft_type`), validates it and warns on unknown keys. `source` names the file in messages.
std::shared_ptr<PeftConfig> config_from_json(const json& j, const std::string& source);
std::shared_ptr<PeftConfig> read_config_file(const std::string& path);

}  // namespace peft
