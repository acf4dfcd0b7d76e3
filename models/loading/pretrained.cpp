// load_pretrained / create_model / save_pretrained: build the architecture from config.json,
// then load the checkpoint strictly by HF key names (with or without the base prefix,
// legacy gamma/beta names, tied weights that the file omits).
#include <iostream>
#include <set>

#include "engine/autograd/grad_mode.h"
#include "engine/io/atomic_file.h"
#include "engine/nn/module_device.h"
#include "models/architectures.h"
#include "models/loading/checkpoint.h"

namespace models {
namespace fs = std::filesystem;
using engine::Tensor;

namespace {

ModelPtr build(const nlohmann::json& config, const std::string& architecture) {
  std::string known;
  for (const auto& e : architecture_table()) {
    if (architecture == e.architecture) return e.factory(config, architecture);
    known += std::string(known.empty() ? "" : ", ") + e.architecture;
  }
  engine::fail<engine::ConfigError>("unknown architecture '", architecture, "' (known: ", known, ")");
}

// Old TF-converted BERT checkpoints name LayerNorm parameters gamma/beta (HF renames them).
std::string legacy_rename(std::string key) {
  auto replace_suffix = [&](const std::string& from, const std::string& to) {
    if (key.size() >= from.size() && key.compare(key.size() - from.size(), from.size(), from) == 0)
      key = key.substr(0, key.size() - from.size()) + to;
  };
  replace_suffix("LayerNorm.gamma", "LayerNorm.weight");
  replace_suffix("LayerNorm.beta", "LayerNorm.bias");
  return key;
}

// The model key a checkpoint key stands for, or "" if none.
std::string match_key(const std::string& ckpt_key, const std::string& prefix,
                      const std::map<std::string, Tensor>& expected) {
  std::string k = legacy_rename(ckpt_key);
  if (expected.count(k)) return k;
  if (!prefix.empty()) {
    if (k.rfind(prefix, 0) == 0 && expected.count(k.substr(prefix.size()))) return k.substr(prefix.size());
    if (expected.count(prefix + k)) return prefix + k;
  }
  return "";
}

}  // namespace

void load_weights(PretrainedModel& model, const TensorMap& checkpoint, bool strict, const std::string& source) {
  std::map<std::string, Tensor> expected = model.state_dict();
  std::set<std::string> aliases;
  for (const auto& [alias, src] : model.tied_weights()) aliases.insert(alias);

  std::set<std::string> loaded;
  std::vector<std::string> errors, ignored, fresh;
  engine::NoGradGuard no_grad;
  for (const auto& [key, value] : checkpoint) {
    std::string target = match_key(key, model.base_prefix(), expected);
    if (target.empty()) {
      if (model.may_be_unexpected(key)) ignored.push_back(key);
      else errors.push_back("unexpected key " + key + " " + engine::shape_str(value.shape()));
      continue;
    }
    Tensor& dst = expected[target];
    if (dst.shape() != value.shape()) {
      errors.push_back("shape mismatch for " + target + ": checkpoint " + engine::shape_str(value.shape()) +
                       ", model " + engine::shape_str(dst.shape()));
      loaded.insert(target);  // reported once, as a mismatch, not again as missing
      continue;
    }
    engine::copy_(dst, value);
    loaded.insert(target);
  }
  for (const auto& [key, t] : expected) {
    if (loaded.count(key) || aliases.count(key)) continue;
    if (model.may_be_missing(key)) fresh.push_back(key);
    else errors.push_back("missing key " + key + " " + engine::shape_str(t.shape()));
  }
  // One line each, as transformers' warnings: other heads' weights, freshly initialised heads.
  auto summary = [&](const std::vector<std::string>& keys, const char* what) {
    if (keys.empty()) return;
    std::cerr << "[load] " << source << ": " << what << " " << keys.size() << " key(s):";
    for (size_t i = 0; i < keys.size() && i < 4; ++i) std::cerr << " " << keys[i];
    std::cerr << (keys.size() > 4 ? " ..." : "") << "\n";
  };
  summary(ignored, "ignored checkpoint");
  summary(fresh, "newly initialised");
  if (strict && !errors.empty()) {
    std::string msg = source + ": checkpoint does not match " + model.architecture() + ":";
    for (const auto& e : errors) msg += "\n  " + e;
    throw engine::KeyError(msg);
  }
}

ModelPtr load_pretrained(const fs::path& folder, const LoadOptions& options) {
  nlohmann::json config = read_config(folder);
  std::string arch = options.architecture.empty() ? default_architecture(config) : options.architecture;
  ModelPtr model = build(config, arch);
  engine::nn::require_device(options.device, "load_pretrained");  // before reading gigabytes
  load_weights(*model, read_checkpoint(folder, options.dtype), options.strict, folder.string());
  engine::nn::module_to(*model, options.device);  // loaded on the host, then moved as a whole
  model->eval();  // as transformers' from_pretrained
  return model;
}

ModelPtr create_model(const nlohmann::json& config, const std::string& architecture, uint64_t seed) {
  engine::manual_seed(seed);  // factories draw their init from the default generator
  return build(config, architecture);
}

void save_pretrained(const PretrainedModel& model, const fs::path& folder) {
  fs::create_directories(folder);
  nlohmann::json config = model.config();
  config["architectures"] = {model.architecture()};
  std::set<std::string> aliases;
  for (const auto& [alias, src] : model.tied_weights()) aliases.insert(alias);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : model.state_dict())
    if (!aliases.count(name)) tensors.emplace_back(name, t);
  write_safetensors(folder / "model.safetensors", tensors);
  engine::io::atomic_write_text(folder / "config.json", config.dump(2) + "\n");
}

}  // namespace models
