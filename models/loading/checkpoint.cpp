#include "models/loading/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "engine/io/atomic_file.h"
#include "engine/io/tensor_io.h"

namespace models {
namespace fs = std::filesystem;
using engine::DType;
using engine::Tensor;

namespace {

engine::io::LoadOptions as_options(DType dtype) {
  engine::io::LoadOptions o;
  o.float_dtype = dtype;
  return o;
}

// The shard files named by an index.json's weight_map, in first-seen order.
std::vector<fs::path> shard_files(const fs::path& index_file) {
  std::ifstream in(index_file);
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    engine::fail<engine::IOError>(index_file.string(), ": not valid JSON (", e.what(), ")");
  }
  engine::check<engine::IOError>(index.contains("weight_map") && index["weight_map"].is_object(),
                                 index_file.string(), ": no \"weight_map\" object");
  std::vector<fs::path> files;
  for (auto& [key, value] : index["weight_map"].items()) {
    fs::path f = index_file.parent_path() / value.get<std::string>();
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  }
  return files;
}

}  // namespace

TensorMap read_safetensors(const fs::path& file, DType dtype) {
  return engine::io::load_safetensors(file, as_options(dtype));
}

TensorMap read_checkpoint(const fs::path& folder, DType dtype) {
  engine::check<engine::IOError>(fs::is_directory(folder), "checkpoint folder ", folder.string(),
                                 " does not exist");
  if (fs::exists(folder / "model.safetensors")) return read_safetensors(folder / "model.safetensors", dtype);
  for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"}) {
    if (!fs::exists(folder / index)) continue;
    TensorMap all;
    for (const fs::path& shard : shard_files(folder / index)) {
      engine::check<engine::IOError>(fs::exists(shard), folder / index, " names shard ", shard.string(),
                                     ", which is missing");
      TensorMap part = shard.extension() == ".bin" ? engine::io::load_torch_state_dict(shard, as_options(dtype)) : read_safetensors(shard, dtype);
      all.merge(part);
    }
    return all;
  }
  if (fs::exists(folder / "pytorch_model.bin")) return engine::io::load_torch_state_dict(folder / "pytorch_model.bin", as_options(dtype));
  engine::fail<engine::IOError>("checkpoint folder ", folder.string(),
                                " has no model.safetensors, model.safetensors.index.json or pytorch_model.bin");
}

void write_safetensors(const fs::path& file, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  // Files are written from host memory: a model on a GPU is copied back tensor by tensor.
  std::vector<std::pair<std::string, Tensor>> host;
  for (const auto& [name, t] : tensors) host.emplace_back(name, t.detach().to(engine::Device::cpu()));
  engine::io::save_safetensors(file, host, {{"format", "pt"}});
}

nlohmann::json read_config(const fs::path& folder) {
  fs::path file = folder / "config.json";
  std::ifstream in(file);
  engine::check<engine::IOError>(in.good(), "cannot read ", file.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    engine::fail<engine::IOError>(file.string(), ": not valid JSON (", e.what(), ")");
  }
}

}  // namespace models
