// safetensors dtype names and the writer.
#include <array>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/io/st_detail.h"

namespace engine::io {
namespace {

struct DTypeEntry {
  StDType dtype;
  const char* name;
  size_t size;
};
constexpr std::array<DTypeEntry, 10> kDTypes{{{StDType::F64, "F64", 8},
                                              {StDType::F32, "F32", 4},
                                              {StDType::F16, "F16", 2},
                                              {StDType::BF16, "BF16", 2},
                                              {StDType::I64, "I64", 8},
                                              {StDType::I32, "I32", 4},
                                              {StDType::I16, "I16", 2},
                                              {StDType::I8, "I8", 1},
                                              {StDType::U8, "U8", 1},
                                              {StDType::BOOL, "BOOL", 1}}};

const DTypeEntry& entry(StDType dt) {
  for (const auto& e : kDTypes)
    if (e.dtype == dt) return e;
  fail<ValueError>("[safetensors] invalid StDType value ", int(dt));
}

// Checks one tensor to write and returns its byte size.
size_t checked_view_bytes(const std::filesystem::path& path, const StTensorView& t) {
  check<ValueError>(!t.name.empty() && t.name != "__metadata__", "[write_safetensors] '",
                    path.string(), "': invalid tensor name '", t.name, "'");
  for (int64_t d : t.shape)
    check<ValueError>(d >= 0, "[write_safetensors] '", path.string(), "': tensor '", t.name,
                      "' has a negative dim in shape ", shape_str(t.shape));
  auto nbytes = detail::shape_nbytes(t.shape, st_dtype_size(t.dtype));
  check<ValueError>(nbytes.has_value(), "[write_safetensors] '", path.string(), "': tensor '",
                    t.name, "' is too large: shape ", shape_str(t.shape));
  check<ValueError>(*nbytes == 0 || t.data != nullptr, "[write_safetensors] '", path.string(),
                    "': tensor '", t.name, "' has no data");
  return *nbytes;
}

// The JSON header, padded with spaces to a multiple of 8 bytes like the reference writer.
std::string make_header(const std::filesystem::path& path, const std::vector<StTensorView>& tensors,
                        const std::vector<size_t>& sizes,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::unordered_set<std::string> seen;
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const StTensorView& t = tensors[i];
    check<ValueError>(seen.insert(t.name).second, "[write_safetensors] '", path.string(),
                      "': duplicate tensor name '", t.name, "'");
    nlohmann::ordered_json e;
    e["dtype"] = st_dtype_name(t.dtype);
    e["shape"] = t.shape;
    e["data_offsets"] = {offset, offset + sizes[i]};
    header[t.name] = std::move(e);
    offset += sizes[i];
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

const char* st_dtype_name(StDType dt) { return entry(dt).name; }
size_t st_dtype_size(StDType dt) { return entry(dt).size; }

StDType st_dtype_from_name(std::string_view name) {
  for (const auto& e : kDTypes)
    if (name == e.name) return e.dtype;
  fail<IOError>("[safetensors] unknown dtype '", name, "'");
}

void write_safetensors(const std::filesystem::path& path, const std::vector<StTensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<size_t> sizes;
  sizes.reserve(tensors.size());
  for (const auto& t : tensors) sizes.push_back(checked_view_bytes(path, t));
  const std::string header = make_header(path, tensors, sizes, metadata);

  atomic_write(path, [&](std::ostream& os) {
    uint8_t len[8];
    detail::store_le64(len, header.size());
    os.write(reinterpret_cast<const char*>(len), 8);
    os.write(header.data(), std::streamsize(header.size()));
    for (size_t i = 0; i < tensors.size(); ++i)
      os.write(static_cast<const char*>(tensors[i].data), std::streamsize(sizes[i]));
  });
}

}  // namespace engine::io
