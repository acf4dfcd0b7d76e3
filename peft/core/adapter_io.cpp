// Adapter folders in HF PEFT's format (see PEFT_FORMAT.md §2.1): adapter_config.json (sorted
// keys, indent 2, inference_mode true) + adapter_model.safetensors (metadata format=pt,
// float32 tensors), or the legacy adapter_model.bin.
#include <filesystem>
#include <sstream>

#include "engine/engine.h"
#include "engine/io/atomic_file.h"
#include "engine/io/tensor_io.h"
#include "peft/core/peft_model.h"
#include "peft/version.h"

namespace peft {

namespace fs = std::filesystem;

void save_adapter_folder(const Adapter& adapter, const fs::path& dir) {
  fs::create_directories(dir);
  json config = adapter.config().to_json();
  config["inference_mode"] = true;  // PEFT forces it in saved files
  config["peft_version"] = std::string("peft.cpp ") + version();
  engine::io::atomic_write_text(dir / "adapter_config.json", config.dump(2) + "\n");  // nlohmann sorts keys

  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [key, t] : adapter.file_tensors())
    // PEFT saves adapters in f32; integer tensors (selective methods' sparse_indices) keep their dtype.
    tensors.emplace_back(key, engine::is_floating(t.dtype()) ? engine::to_dtype(t.detach(), engine::DType::f32) : t.detach());
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
