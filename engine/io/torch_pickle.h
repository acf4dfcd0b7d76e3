// Reads the state dict of a torch.save() zip archive (HF `pytorch_model.bin`, torch >= 1.6)
// without Python: a ZIP of `<archive>/data.pkl` (the pickled dict) and `<archive>/data/<key>`
// (one raw little-endian blob per storage). The pickle goes through a restricted unpickler that
// only accepts the globals a state dict needs (OrderedDict, torch._utils._rebuild_tensor_v2,
// _rebuild_parameter, torch.*Storage) and never runs code; anything else is an IOError naming it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"

namespace engine::io {

// One tensor as torch stores it: a strided view into a storage that other tensors may share.
struct TorchTensorRecord {
  std::string name;
  StDType dtype;
  std::vector<int64_t> shape, strides;  // strides in elements; may be non-contiguous
  int64_t storage_offset = 0;           // in elements
  std::shared_ptr<const std::vector<uint8_t>> storage;  // the whole storage, shared by views

  int64_t numel() const;
  bool is_contiguous() const;  // row-major with no gaps
  const uint8_t* first_element() const {
    return storage->data() + storage_offset * static_cast<int64_t>(st_dtype_size(dtype));
  }
};

// The state dict's tensors, in the pickle's (insertion) order. IOError naming the file and the
// problem for anything else: not a zip, compressed entries, a refused global or opcode, a view
// outside its storage, a non-tensor value.
std::vector<TorchTensorRecord> read_torch_state_dict(const std::filesystem::path& path);

// The tensor's elements copied into row-major contiguous bytes (numel * itemsize).
std::vector<uint8_t> contiguous_bytes(const TorchTensorRecord& t);

}  // namespace engine::io
