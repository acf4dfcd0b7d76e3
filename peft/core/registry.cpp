// The table of methods (see registry.h). One row per method; presets give the CLI names.
#include "peft/core/registry.h"

#include <sstream>

#include "engine/core/error.h"
#include "peft/core/adapter.h"
#include "peft/methods/lora/adapter.h"

namespace peft {

namespace {

template <typename Config, typename AdapterT>
MethodInfo row(const std::string& peft_type, const std::string& family, const std::string& summary) {
  return MethodInfo{
      peft_type, family, summary, [] { return std::make_shared<Config>(); },
      [](const std::string& name, std::shared_ptr<PeftConfig> config) -> std::unique_ptr<Adapter> {
        return std::make_unique<AdapterT>(name, std::move(config));
      }};
}

}  // namespace

const std::vector<MethodInfo>& methods() {
  static const std::vector<MethodInfo> table = {
      row<lora::LoraConfig, lora::LoraAdapter>("LORA", "reparameterized",
                                               "low-rank update W + (α/r)·B·A (also rsLoRA, DoRA, PiSSA, OLoRA, QLoRA)"),
  };
  return table;
}

const MethodInfo& method_by_type(const std::string& peft_type) {
  for (const auto& m : methods())
    if (m.peft_type == peft_type) return m;
  std::ostringstream known;
  for (const auto& m : methods()) known << " " << m.peft_type;
  engine::fail<engine::KeyError>("[peft] unknown peft_type '", peft_type, "'; known:", known.str());
}

const std::vector<MethodPreset>& method_presets() {
  static const std::vector<MethodPreset> presets = {
      {"lora", "LORA", json::object(), "LoRA (Hu et al. 2021)"},
      {"rslora", "LORA", {{"use_rslora", true}}, "rank-stabilised LoRA: scaling α/√r"},
      {"dora", "LORA", {{"use_dora", true}}, "DoRA: magnitude and direction trained apart"},
      {"pissa", "LORA", {{"init_lora_weights", "pissa"}}, "LoRA initialised from the principal singular vectors"},
      {"olora", "LORA", {{"init_lora_weights", "olora"}}, "LoRA initialised from a QR decomposition"},
      {"qlora", "LORA", {{"quantize_base", "nf4"}}, "LoRA over an NF4-quantized frozen base"},
  };
  return presets;
}

const MethodPreset& preset_by_name(const std::string& name) {
  for (const auto& p : method_presets())
    if (p.name == name) return p;
  std::ostringstream known;
  for (const auto& p : method_presets()) known << " " << p.name;
  engine::fail<engine::KeyError>("[peft] unknown method '", name, "'; known:", known.str());
}

std::shared_ptr<PeftConfig> make_config(const std::string& preset_name, const json& overrides) {
  const MethodPreset& preset = preset_by_name(preset_name);
  json j = preset.overrides;
  j["peft_type"] = preset.peft_type;
  for (const auto& [k, v] : overrides.items()) j[k] = v;
  return config_from_json(j, "method '" + preset_name + "'");
}

}  // namespace peft
