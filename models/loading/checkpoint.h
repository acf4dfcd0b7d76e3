// Reading and writing the weights of an HF checkpoint folder, whatever the file layout:
// model.safetensors, sharded safetensors (model.safetensors.index.json), or the older
// pytorch_model.bin (zip + pickle, read by a restricted unpickler that never runs code).
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/tensor.h"

namespace models {

using TensorMap = std::map<std::string, engine::Tensor>;

// Every tensor of the folder's weights file(s), by checkpoint key. f32 tensors of safetensors
// files are zero-copy views of the mapped file; other dtypes are converted to `dtype`
// (pass DType::f32 for training; integer tensors keep their type).
TensorMap read_checkpoint(const std::filesystem::path& folder, engine::DType dtype = engine::DType::f32);

// Reads one safetensors file (same conversion rules).
TensorMap read_safetensors(const std::filesystem::path& file, engine::DType dtype = engine::DType::f32);

// Writes tensors (contiguous copies as needed) to a safetensors file, atomically, in the
// given order, with metadata {"format": "pt"} as HF does.
void write_safetensors(const std::filesystem::path& file,
                       const std::vector<std::pair<std::string, engine::Tensor>>& tensors);

// The folder's config.json, parsed (IOError naming the file on a missing file or bad JSON).
nlohmann::json read_config(const std::filesystem::path& folder);

}  // namespace models
