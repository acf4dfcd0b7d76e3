// Saving and loading named tensors as safetensors: a module's state dict, or any map of
// tensors (optimizer state uses the same path). Writes are atomic (engine/io/atomic_file.h).
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "engine/nn/module.h"

namespace engine::nn {

// Writes the tensors (any layout; written contiguous, keys in sorted order) to `path`.
void save_tensors(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata = {});
// Reads every tensor of a safetensors file (IOError naming the file when it is missing or
// malformed). Tensors may view the file mapping: copy before writing into them.
std::map<std::string, Tensor> load_tensors(const std::filesystem::path& path);

// A module's state dict to/from safetensors; loading is load_state_dict (strict by default).
void save_state(const Module& m, const std::filesystem::path& path,
                const std::map<std::string, std::string>& metadata = {});
void load_state(Module& m, const std::filesystem::path& path, bool strict = true);

}  // namespace engine::nn
