// Which modules a method adapts, with PEFT's exact rules (tuners_utils.py, utils/other.py):
//  - target_modules as a list: a module matches when its name equals an entry or ends with
//    "." + entry; as a string: std::regex full match; "all-linear": every Linear / Conv1D
//    except the output layer (LM head, classifier heads);
//  - exclude_modules the same way (excluded names never match);
//  - layers_to_transform: the layer index is the number after `layers_pattern` (or after any
//    single path component when no pattern is given): `.*?\.{pattern}\.(\d+)\.`;
//  - rank_pattern / alpha_pattern keys: `(.*\.)?(key)$` matched from the start of the name.
// Null target_modules fall back to a per-model-type default table (default_targets()).
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "peft/core/config.h"

namespace peft {

bool selector_matches(const ModuleSelector& selector, const std::string& module_name, const engine::nn::Module& module);

// PEFT's default target modules for a method (peft_type) on a model type ("bert", "gpt2",
// "t5", "roberta"); empty when PEFT has none.
std::vector<std::string> default_targets(const std::string& peft_type, const std::string& model_type);
// IA3's default feed-forward modules (a subset of its targets).
std::vector<std::string> default_feedforward_modules(const std::string& model_type);

// The layer index of `module_name` ("encoder.layer.3.attention" -> 3), or nullopt.
std::optional<int64_t> layer_index(const std::string& module_name, const std::optional<std::vector<std::string>>& layers_pattern);

// The rank_pattern / alpha_pattern key matching `module_name`, or nullopt.
std::optional<std::string> pattern_key(const std::map<std::string, double>& patterns, const std::string& module_name);

// Names of the modules `config` selects in `model` (model order), among those `accepts`
// (e.g. "is a Linear"). Throws engine::KeyError listing the model's module names when nothing
// matches. `model_type` picks the default table when target_modules is null.
std::vector<std::string> select_targets(const engine::nn::Module& model, const TunerConfig& config,
                                        const std::string& model_type,
                                        const std::function<bool(const engine::nn::Module&)>& accepts);

// Whether a module is a linear layer in PEFT's sense (Linear or GPT-2 Conv1D).
bool is_linear(const engine::nn::Module& m);

}  // namespace peft
