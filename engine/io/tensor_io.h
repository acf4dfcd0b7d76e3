// Bridge between the byte-level readers/writers (safetensors.h, torch_pickle.h) and Tensors.
// Loading is zero-copy where it can be: a safetensors tensor whose bytes are aligned for its
// dtype is a view into the file mapping (kept alive by the tensor's storage), and torch views
// keep their strides, offsets and shared storages.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/io/safetensors.h"

namespace engine::io {

struct LoadOptions {
  // When set, floating tensors of another dtype are converted to it (e.g. bf16 -> f32).
  std::optional<DType> float_dtype;
};

// File dtype <-> engine dtype. I8/U8/I16 have no engine dtype: loading widens them to i32.
StDType to_st_dtype(DType dt);
DType engine_dtype(StDType dt);

std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path,
                                               const LoadOptions& options = {});

// An HF `pytorch_model.bin` (torch.save zip archive) as tensors; see torch_pickle.h.
std::map<std::string, Tensor> load_torch_state_dict(const std::filesystem::path& path,
                                                    const LoadOptions& options = {});

// Writes CPU tensors (any layout; made contiguous) atomically, in the given order.
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace engine::io
