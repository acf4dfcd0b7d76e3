// Tensors from safetensors mappings and torch records, and Tensors to safetensors files.
#include "engine/io/tensor_io.h"

#include <cstring>

#include "engine/core/error.h"
#include "engine/io/torch_pickle.h"

namespace engine::io {
namespace {

bool widened(StDType dt) { return dt == StDType::I8 || dt == StDType::U8 || dt == StDType::I16; }

// Contiguous I8/U8/I16 bytes as a new i32 tensor.
Tensor widen_to_i32(const uint8_t* bytes, StDType dt, const Shape& shape) {
  Tensor out = empty(shape, DType::i32);
  int32_t* dst = out.data<int32_t>();
  for (int64_t i = 0, n = out.numel(); i < n; ++i) {
    if (dt == StDType::I8) dst[i] = int8_t(bytes[i]);
    else if (dt == StDType::U8) dst[i] = bytes[i];
    else { int16_t v; std::memcpy(&v, bytes + 2 * i, 2); dst[i] = v; }
  }
  return out;
}

Tensor convert(Tensor t, const LoadOptions& options) {
  if (options.float_dtype && is_floating(t.dtype()) && t.dtype() != *options.float_dtype)
    return t.to(*options.float_dtype);
  return t;
}

// A strided view over borrowed memory (from_blob only makes contiguous ones).
Tensor strided_view(const std::shared_ptr<Storage>& storage, DType dt, const Shape& shape,
                    const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dt;
  return Tensor(impl);
}

}  // namespace

StDType to_st_dtype(DType dt) {
  switch (dt) {
    case DType::f32: return StDType::F32;
    case DType::f64: return StDType::F64;
    case DType::bf16: return StDType::BF16;
    case DType::f16: return StDType::F16;
    case DType::i32: return StDType::I32;
    case DType::i64: return StDType::I64;
    case DType::boolean: return StDType::BOOL;
  }
  fail<DTypeError>("[safetensors] no file dtype for ", dtype_name(dt));
}

DType engine_dtype(StDType dt) {
  switch (dt) {
    case StDType::F64: return DType::f64;
    case StDType::F32: return DType::f32;
    case StDType::F16: return DType::f16;
    case StDType::BF16: return DType::bf16;
    case StDType::I64: return DType::i64;
    case StDType::BOOL: return DType::boolean;
    default: return DType::i32;  // I32, and the widened I16/I8/U8
  }
}

std::map<std::string, Tensor> load_safetensors(const std::filesystem::path& path,
                                               const LoadOptions& options) {
  SafetensorsReader reader(path);
  std::map<std::string, Tensor> out;
  for (const StTensorInfo& info : reader.tensors()) {
    // The mapping is private and writable (mapped_file.h), so tensors may write through it.
    auto* bytes = const_cast<uint8_t*>(reader.data(info.name));
    Tensor t;
    if (widened(info.dtype)) {
      t = widen_to_i32(bytes, info.dtype, info.shape);
    } else if (reinterpret_cast<uintptr_t>(bytes) % st_dtype_size(info.dtype) == 0) {
      t = from_blob(bytes, info.shape, engine_dtype(info.dtype), reader.mapping());  // zero-copy
    } else {  // the format does not promise alignment: copy
      t = empty(info.shape, engine_dtype(info.dtype));
      std::memcpy(t.raw_data(), bytes, info.nbytes());
    }
    out.emplace(info.name, convert(t, options));
  }
  return out;
}

std::map<std::string, Tensor> load_torch_state_dict(const std::filesystem::path& path,
                                                    const LoadOptions& options) {
  std::map<const void*, std::shared_ptr<Storage>> storages;  // views keep sharing one Storage
  std::map<std::string, Tensor> out;
  for (const TorchTensorRecord& r : read_torch_state_dict(path)) {
    Tensor t;
    if (widened(r.dtype)) {
      t = widen_to_i32(contiguous_bytes(r).data(), r.dtype, r.shape);
    } else {
      auto& s = storages[r.storage.get()];
      if (!s) {  // the record's vector is ours alone: writing through it is fine
        void* data = const_cast<uint8_t*>(r.storage->data());
        s = std::make_shared<Storage>(data, r.storage->size(), Device::cpu(), r.storage);
      }
      t = strided_view(s, engine_dtype(r.dtype), r.shape, r.strides, r.storage_offset);
    }
    out.emplace(r.name, convert(t, options));
  }
  return out;
}

void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> keep;  // contiguous copies must outlive the write
  std::vector<StTensorView> views;
  for (const auto& [name, t] : tensors) {
    check<ValueError>(t.defined(), "[save_safetensors] '", path.string(), "': tensor '", name,
                      "' is undefined");
    check<ValueError>(t.device().is_cpu(), "[save_safetensors] '", path.string(), "': tensor '",
                      name, "' is on ", t.device().str(), "; move it to the CPU first");
    keep.push_back(t.contiguous());
    views.push_back({name, to_st_dtype(t.dtype()), t.shape(), keep.back().raw_data()});
  }
  write_safetensors(path, views, metadata);
}

}  // namespace engine::io
