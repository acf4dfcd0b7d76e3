// Adapter folders in HF PEFT's format (see PEFT_FORMAT.md §2.1): adapter_config.json (sorted
// keys, indent 2, inference_mode true) + adapter_model.safetensors (metadata format=pt,
// float32 tensors), or the legacy adapter_model.bin.
#include <filesystem>
#include <sstream>

#include "engine/engine.h"
#include "engine/io/atomic_file.h"
#include "engine/io/tensor_io.h"
#include "peft/core/peft_model.h"

namespace peft {

namespace fs = std::filesystem;

namespace {

// Fields newer PEFT releases added (and those 0.11 lacks for some methods: `modules_to_save` on
// prompt-learning configs, `layers_to_transform`/`layers_pattern` on IA3 and LN tuning) are
// written only when they are set: older PEFT passes every key to the config's
// constructor and fails on ones it does not know, so a default-valued newer field would make
// our file unreadable there for nothing.
void drop_unset_newer_fields(json& config) {
  static const std::map<std::string, std::vector<std::string>> kAbsentIn011 = {
      {"IA3", {"layers_to_transform", "layers_pattern"}},
      {"LN_TUNING", {"layers_to_transform", "layers_pattern"}},
  };
  std::vector<std::string> keys = {"exclude_modules", "lora_bias"};
  if (!config.contains("target_modules")) keys.push_back("modules_to_save");  // prompt-learning configs
  if (auto it = kAbsentIn011.find(config.value("peft_type", "")); it != kAbsentIn011.end())
    keys.insert(keys.end(), it->second.begin(), it->second.end());
  for (const std::string& key : keys) {
    auto it = config.find(key);
    if (it == config.end()) continue;
    const bool unset = it->is_null() || (it->is_boolean() && !it->get<bool>()) || (it->is_array() && it->empty());
    if (unset) config.erase(it);
  }
}

}  // namespace

void save_adapter_folder(const Adapter& adapter, const fs::path& dir) {
  fs::create_directories(dir);
  json config = adapter.config().to_json();
  config["inference_mode"] = true;  // PEFT forces it in saved files
  drop_unset_newer_fields(config);
  engine::io::atomic_write_text(dir / "adapter_config.json", config.dump(2) + "\n");  // nlohmann sorts keys

  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [key, t] : adapter.file_tensors())
    // PEFT saves adapters in f32; integer tensors (selective methods' sparse_indices) keep their dtype.
    // Adapters on a GPU are copied to the host first (files are written from host memory).
    tensors.emplace_back(key, (engine::is_floating(t.dtype()) ? engine::to_dtype(t.detach(), engine::DType::f32) : t.detach())
                                  .to(engine::Device::cpu()));
  engine::io::save_safetensors(dir / "adapter_model.safetensors", tensors, {{"format", "pt"}});
}

std::map<std::string, Tensor> read_adapter_weights(const fs::path& dir) {
  if (fs::exists(dir / "adapter_model.safetensors")) return engine::io::load_safetensors(dir / "adapter_model.safetensors");
  if (fs::exists(dir / "adapter_model.bin")) return engine::io::load_torch_state_dict(dir / "adapter_model.bin");
  engine::fail<engine::IOError>("[load_adapter] ", dir.string(), " has neither adapter_model.safetensors nor adapter_model.bin");
}

void load_adapter_weights(const Adapter& adapter, const std::map<std::string, Tensor>& file, const std::string& source) {
  std::ostringstream problems;
  std::set<std::string> expected;
  engine::NoGradGuard no_grad;
  std::vector<std::pair<Tensor, Tensor>> copies;  // checked first, copied only when all match
  for (const auto& [key, t] : adapter.file_tensors()) {
    expected.insert(key);
    auto it = file.find(key);
    if (it == file.end()) {
      problems << "\n  missing " << key << " " << engine::shape_str(t.shape());
    } else if (it->second.shape() != t.shape()) {
      problems << "\n  shape mismatch for " << key << ": file " << engine::shape_str(it->second.shape()) << ", adapter "
               << engine::shape_str(t.shape());
    } else {
      copies.emplace_back(t, it->second);
    }
  }
  for (const auto& [key, t] : file)
    if (!expected.count(key)) problems << "\n  unexpected " << key << " " << engine::shape_str(t.shape());
  if (!problems.str().empty())
    engine::fail<engine::KeyError>("[load_adapter] ", source, " does not fit adapter '", adapter.name(), "' (",
                                   adapter.config().peft_type, "):", problems.str());
  for (auto& [dst, src] : copies) engine::copy_(dst, src);
}

void Adapter::load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source) {
  load_adapter_weights(*this, file, source);
}

}  // namespace peft
