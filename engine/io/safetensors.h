// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, "__metadata__": {...}},
// then the data section. This layer deals in raw bytes; tensor_io.h turns them into Tensors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/io/mapped_file.h"

namespace engine::io {

enum class StDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* st_dtype_name(StDType dt);      // "F32"
size_t st_dtype_size(StDType dt);           // bytes per element
StDType st_dtype_from_name(std::string_view name);  // IOError on an unknown name

struct StTensorInfo {
  std::string name;
  StDType dtype;
  std::vector<int64_t> shape;   // [] for a scalar
  size_t offset_begin = 0;      // relative to the start of the data section
  size_t offset_end = 0;
  size_t nbytes() const { return offset_end - offset_begin; }
};

// Maps the file and validates the whole header up front (sizes, offsets, coverage, dtypes), so
// every later access is a plain pointer into the mapping. Errors are IOErrors naming the file.
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::filesystem::path& path);

  const std::vector<StTensorInfo>& tensors() const { return tensors_; }  // file (data) order
  const StTensorInfo& info(const std::string& name) const;  // KeyError naming file and key
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const uint8_t* data(const std::string& name) const;       // points into the mapping
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return file_->path(); }
  // The mapping itself, for zero-copy tensors that must keep it alive.
  const std::shared_ptr<const MappedFile>& mapping() const { return file_; }
  const uint8_t* data_section() const { return file_->data() + data_start_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  size_t data_start_ = 0;  // 8 + header length
  std::vector<StTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: contiguous row-major bytes of prod(shape) * st_dtype_size(dtype).
struct StTensorView {
  std::string name;
  StDType dtype;
  std::vector<int64_t> shape;
  const void* data;
};

// Writes atomically (atomic_file.h), tensors in the given order, the header padded with spaces
// to a multiple of 8 bytes as the reference writer does (so the data section is 8-aligned).
void write_safetensors(const std::filesystem::path& path, const std::vector<StTensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace engine::io
