// SafetensorsReader: maps the file and validates the header the way the reference loader does
// (exact byte spans, data section fully covered with no holes or overlaps), so a malformed file
// fails here with a message instead of becoming out-of-bounds reads later.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/io/st_detail.h"

namespace engine::io {
namespace {

using json = nlohmann::ordered_json;
constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference loader's limit

template <typename... Args>
[[noreturn]] void bad(const std::filesystem::path& path, const Args&... args) {
  fail<IOError>("safetensors '", path.string(), "': ", args...);
}

// Parses the header text, rejecting duplicate top-level names (a plain JSON parse would keep
// one of them silently).
json parse_header(const std::filesystem::path& path, std::string_view text) {
  std::set<std::string> names;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!names.insert(key).second) bad(path, "duplicate tensor name '", key, "' in the header");
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), on_event);
  } catch (const json::exception& e) {
    bad(path, "header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) bad(path, "header is not a JSON object");
  return header;
}

std::vector<int64_t> parse_shape(const std::filesystem::path& path, const std::string& name,
                                 const json& j) {
  if (!j.is_array()) bad(path, "tensor '", name, "': \"shape\" is not an array");
  std::vector<int64_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_integer()) bad(path, "tensor '", name, "': shape has a non-integer dim");
    if (d.is_number_unsigned() ? d.get<uint64_t>() > uint64_t(INT64_MAX) : d.get<int64_t>() < 0)
      bad(path, "tensor '", name, "': negative or huge dim in shape ", d.dump());
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

StTensorInfo parse_tensor(const std::filesystem::path& path, const std::string& name,
                          const json& j) {
  if (!j.is_object()) bad(path, "entry '", name, "' is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!j.contains(key)) bad(path, "tensor '", name, "' has no \"", key, "\"");
  StTensorInfo info;
  info.name = name;
  const json& dt = j["dtype"];
  if (!dt.is_string()) bad(path, "tensor '", name, "': \"dtype\" is not a string");
  try {
    info.dtype = st_dtype_from_name(dt.get_ref<const std::string&>());
  } catch (const IOError&) {
    bad(path, "tensor '", name, "' has unknown dtype ", dt.dump());
  }
  info.shape = parse_shape(path, name, j["shape"]);
  const json& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    bad(path, "tensor '", name, "': \"data_offsets\" must be two non-negative integers, got ",
        off.dump());
  info.offset_begin = off[0].get<size_t>();
  info.offset_end = off[1].get<size_t>();
  if (info.offset_end < info.offset_begin)
    bad(path, "tensor '", name, "': data_offsets ", off.dump(), " end before they begin");
  auto expected = detail::shape_nbytes(info.shape, st_dtype_size(info.dtype));
  if (!expected || *expected != info.nbytes())
    bad(path, "tensor '", name, "': shape ", shape_str(info.shape), " x ", dt.get<std::string>(),
        " needs ", expected ? std::to_string(*expected) : "too many", " bytes but data_offsets ",
        off.dump(), " span ", info.nbytes());
  return info;
}

std::map<std::string, std::string> parse_metadata(const std::filesystem::path& path,
                                                  const json& j) {
  if (!j.is_object()) bad(path, "\"__metadata__\" is not an object");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) bad(path, "\"__metadata__\" value of '", k, "' is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// Sorts the tensors into data order and checks they tile [0, data_bytes) exactly.
void check_coverage(const std::filesystem::path& path, std::vector<StTensorInfo>& tensors,
                    size_t data_bytes) {
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    return std::pair(a.offset_begin, a.offset_end) < std::pair(b.offset_begin, b.offset_end);
  });
  size_t covered = 0;
  for (const auto& t : tensors) {
    if (t.offset_end > data_bytes)
      bad(path, "tensor '", t.name, "': data_offsets [", t.offset_begin, ",", t.offset_end,
          "] out of range of the ", data_bytes, "-byte data section (truncated file?)");
    if (t.offset_begin < covered)
      bad(path, "tensor '", t.name, "': data_offsets [", t.offset_begin, ",", t.offset_end,
          "] overlap the previous tensor (which ends at ", covered, ")");
    if (t.offset_begin > covered)
      bad(path, "hole in the data section: bytes [", covered, ",", t.offset_begin,
          ") belong to no tensor (before '", t.name, "')");
    covered = t.offset_end;
  }
  if (covered != data_bytes)
    bad(path, "the data section has ", data_bytes, " bytes but the tensors cover only ", covered);
}

}  // namespace

SafetensorsReader::SafetensorsReader(const std::filesystem::path& path)
    : file_(std::make_shared<const MappedFile>(path)) {
  const size_t size = file_->size();
  if (size < 8) bad(path, "truncated file: ", size, " bytes, less than the 8-byte header length");
  const uint64_t n = detail::load_le64(file_->data());
  if (n > kMaxHeaderBytes)
    bad(path, "header length ", n, " is absurd (limit ", kMaxHeaderBytes, " bytes): not a safetensors file?");
  if (n > size - 8)
    bad(path, "header length ", n, " exceeds the ", size - 8, " bytes after it (truncated file?)");
  data_start_ = 8 + n;

  const char* text = reinterpret_cast<const char*>(file_->data() + 8);
  json header = parse_header(path, std::string_view(text, n));
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__")
      metadata_ = parse_metadata(path, value);
    else
      tensors_.push_back(parse_tensor(path, name, value));
  }
  check_coverage(path, tensors_, size - data_start_);
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const StTensorInfo& SafetensorsReader::info(const std::string& name) const {
  auto it = index_.find(name);
  check<KeyError>(it != index_.end(), "safetensors '", path().string(), "' has no tensor '",
                  name, "'");
  return tensors_[it->second];
}

const uint8_t* SafetensorsReader::data(const std::string& name) const {
  return data_section() + info(name).offset_begin;
}

}  // namespace engine::io
