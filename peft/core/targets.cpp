// Target matching (see targets.h).
#include "peft/core/targets.h"

#include <regex>
#include <sstream>

#include "engine/core/error.h"
#include "engine/nn/layers.h"
#include "peft/core/modules_to_save.h"
#include "peft/core/tuner_layer.h"

namespace peft {

namespace {

bool ends_with_component(const std::string& name, const std::string& entry) {
  if (name == entry) return true;
  return name.size() > entry.size() && name.compare(name.size() - entry.size(), entry.size(), entry) == 0 &&
         name[name.size() - entry.size() - 1] == '.';
}

std::string last_component(const std::string& name) {
  auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

// Output layers that all-linear leaves alone (PEFT: the output embedding and classifier heads).
bool is_output_layer(const std::string& name) {
  static const char* kHeads[] = {"lm_head", "classifier", "score", "qa_outputs", "out_proj"};
  const std::string last = last_component(name);
  for (const char* h : kHeads)
    if (last == h) return true;
  return name == "cls.predictions.decoder" || ends_with_component(name, "cls.predictions.decoder");
}

// Default targets per method, then per model type (PEFT's utils/constants.py).
const std::map<std::string, std::map<std::string, std::vector<std::string>>>& default_table() {
  static const std::vector<std::string> kNone;
  static const std::map<std::string, std::vector<std::string>> kLoraFamily = {
      {"bert", {"query", "value"}}, {"roberta", {"query", "value"}}, {"gpt2", {"c_attn"}}, {"t5", {"q", "v"}}};
  static const std::map<std::string, std::map<std::string, std::vector<std::string>>> table = {
      {"LORA", kLoraFamily},   {"ADALORA", kLoraFamily}, {"LOHA", kLoraFamily}, {"LOKR", kLoraFamily},
      {"VERA", kLoraFamily},   {"OFT", kLoraFamily},     {"BOFT", kLoraFamily},
      {"IA3",
       {{"bert", {"key", "value", "output.dense"}},
        {"roberta", {"key", "value", "output.dense"}},
        {"gpt2", {"c_attn", "mlp.c_proj"}},
        {"t5", {"k", "v", "wo"}}}},
      {"LN_TUNING", {{"gpt2", {"ln_1", "ln_2", "ln_f"}}, {"t5", {"layer_norm", "final_layer_norm"}}}},
  };
  return table;
}

}  // namespace

bool is_linear(const engine::nn::Module& m) { return dynamic_cast<const engine::nn::Linear*>(&m) != nullptr; }

bool selector_matches(const ModuleSelector& selector, const std::string& name, const engine::nn::Module& module) {
  switch (selector.kind) {
    case ModuleSelector::Kind::none: return false;
    case ModuleSelector::Kind::regex: return std::regex_match(name, std::regex(selector.regex));
    case ModuleSelector::Kind::all_linear: return is_linear(module) && !is_output_layer(name);
    case ModuleSelector::Kind::list:
      for (const auto& entry : selector.names)
        if (ends_with_component(name, entry)) return true;
      return false;
  }
  return false;
}

std::vector<std::string> default_targets(const std::string& peft_type, const std::string& model_type) {
  const auto& table = default_table();
  auto by_method = table.find(peft_type);
  if (by_method == table.end()) return {};
  auto by_model = by_method->second.find(model_type);
  return by_model == by_method->second.end() ? std::vector<std::string>{} : by_model->second;
}

std::vector<std::string> default_feedforward_modules(const std::string& model_type) {
  if (model_type == "bert" || model_type == "roberta") return {"output.dense"};
  if (model_type == "gpt2") return {"mlp.c_proj"};
  if (model_type == "t5") return {"wo"};
  return {};
}

std::optional<int64_t> layer_index(const std::string& name, const std::optional<std::vector<std::string>>& patterns) {
  std::smatch m;
  if (!patterns || patterns->empty()) {
    if (std::regex_match(name, m, std::regex(R"(.*?\.[^.]*\.(\d+)\..*)")) ||
        std::regex_match(name, m, std::regex(R"(.*?\.[^.]*\.(\d+)$)")))
      return std::stoll(m[1]);
    return std::nullopt;
  }
  for (const auto& p : *patterns)
    if (std::regex_match(name, m, std::regex(".*?\\." + p + "\\.(\\d+)(\\..*)?")) ||
        std::regex_match(name, m, std::regex(p + "\\.(\\d+)(\\..*)?")))
      return std::stoll(m[1]);
  return std::nullopt;
}

std::optional<std::string> pattern_key(const std::map<std::string, double>& patterns, const std::string& name) {
  for (const auto& [key, _] : patterns)
    if (std::regex_match(name, std::regex("(.*\\.)?(" + key + ")$"))) return key;
  return std::nullopt;
}

std::vector<std::string> select_targets(const engine::nn::Module& model, const TunerConfig& config,
                                        const std::string& model_type,
                                        const std::function<bool(const engine::nn::Module&)>& accepts) {
  ModuleSelector targets = config.target_modules;
  if (!targets.is_set()) {
    std::vector<std::string> defaults = default_targets(config.peft_type, model_type);
    engine::check<engine::ConfigError>(!defaults.empty(), "[", config.peft_type, "] no target_modules given and no default for model type '",
                                       model_type, "'");
    targets = ModuleSelector::list_of(defaults);
  }
  std::vector<std::string> selected, all_names;
  std::vector<std::string> wrappers;  // "path." of PEFT wrappers: their insides are never targets
  for (const auto& [name, module] : model.named_modules()) {
    if (name.empty()) continue;
    bool inside_wrapper = false;
    for (const auto& w : wrappers) inside_wrapper |= name.compare(0, w.size(), w) == 0;
    if (inside_wrapper) continue;
    if (dynamic_cast<const TunerLayer*>(module.get()) || dynamic_cast<const ModulesToSave*>(module.get()))
      wrappers.push_back(name + ".");
    all_names.push_back(name);
    if (!selector_matches(targets, name, *module) || selector_matches(config.exclude_modules, name, *module)) continue;
    if (!config.layers_to_transform.empty()) {
      std::optional<int64_t> layer = layer_index(name, config.layers_pattern);
      if (!layer) continue;
      bool wanted = false;
      for (int64_t l : config.layers_to_transform) wanted |= (l == *layer);
      if (!wanted) continue;
    }
    if (accepts(*module)) selected.push_back(name);
  }
  if (selected.empty()) {
    std::ostringstream os;
    os << "[" << config.peft_type << "] target_modules " << targets.to_json().dump()
       << " matched no supported module. Modules of this model:";
    for (const auto& n : all_names) os << " " << n;
    throw engine::KeyError(os.str());
  }
  return selected;
}

}  // namespace peft
