// Module state dicts and tensor maps as safetensors, over engine/io/tensor_io.h.
#include "engine/nn/state_io.h"

#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/io/tensor_io.h"

namespace engine::nn {

void save_tensors(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  NoGradGuard no_grad;
  std::vector<std::pair<std::string, Tensor>> ordered;
  for (const auto& [name, t] : tensors) {
    check<ValueError>(t.defined(), "[save_tensors] ", path.string(), ": tensor '", name, "' is undefined");
    ordered.emplace_back(name, t.detach().to(Device::cpu()));  // files are written from host memory
  }
  io::save_safetensors(path, ordered, metadata);
}

std::map<std::string, Tensor> load_tensors(const std::filesystem::path& path) {
  return io::load_safetensors(path);
}

void save_state(const Module& m, const std::filesystem::path& path,
                const std::map<std::string, std::string>& metadata) {
  save_tensors(path, m.state_dict(), metadata);
}

void load_state(Module& m, const std::filesystem::path& path, bool strict) {
  m.load_state_dict(load_tensors(path), strict);
}

}  // namespace engine::nn
