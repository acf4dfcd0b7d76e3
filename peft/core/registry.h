// The method registry: one row per PEFT method (by PEFT's `peft_type`), naming its config
// struct and how to build an adapter from it. Adding a method = its folder under
// peft/methods/ + one row in registry.cpp; nothing else changes.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace peft {

struct PeftConfig;
class Adapter;

struct MethodInfo {
  std::string peft_type;  // "LORA" (adapter_config.json's peft_type)
  std::string family;     // "reparameterized", "additive", "selective", "hybrid"
  std::string summary;    // one line for `peft inspect` / `peft train --help`
  std::function<std::shared_ptr<PeftConfig>()> make_config;  // defaults
  std::function<std::unique_ptr<Adapter>(const std::string& adapter_name, std::shared_ptr<PeftConfig>)> make_adapter;
};

// A user-facing method name (`peft train --method dora`): a peft_type plus config overrides.
struct MethodPreset {
  std::string name;        // "lora", "dora", "rslora", "qlora", ...
  std::string peft_type;   // "LORA"
  nlohmann::json overrides;  // e.g. {"use_dora": true}
  std::string summary;
};

const std::vector<MethodInfo>& methods();
// engine::KeyError listing the known types when absent.
const MethodInfo& method_by_type(const std::string& peft_type);
const std::vector<MethodPreset>& method_presets();
const MethodPreset& preset_by_name(const std::string& name);

// A config for a preset with JSON overrides (CLI flags or a user's config file) applied on
// top, validated. `overrides` may set any field of the method's config.
std::shared_ptr<PeftConfig> make_config(const std::string& preset_name, const nlohmann::json& overrides = {});

}  // namespace peft
