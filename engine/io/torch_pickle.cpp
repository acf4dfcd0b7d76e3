// torch.save() zip archives: the whitelist of pickle globals, persistent storage ids and
// torch._utils._rebuild_tensor_v2, and strided-copy helpers for the records they produce.
#include "engine/io/torch_pickle.h"

#include <cstring>
#include <map>

#include "engine/core/error.h"
#include "engine/io/pickle.h"
#include "engine/io/zip_archive.h"

namespace engine::io {
namespace {

using K = PyValue::Kind;

const std::map<std::string, StDType>& storage_types() {
  static const std::map<std::string, StDType> types = {
      {"torch.DoubleStorage", StDType::F64}, {"torch.FloatStorage", StDType::F32},
      {"torch.HalfStorage", StDType::F16},   {"torch.BFloat16Storage", StDType::BF16},
      {"torch.LongStorage", StDType::I64},   {"torch.IntStorage", StDType::I32},
      {"torch.ShortStorage", StDType::I16},  {"torch.CharStorage", StDType::I8},
      {"torch.ByteStorage", StDType::U8},    {"torch.BoolStorage", StDType::BOOL}};
  return types;
}
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";

// What a persistent id ('storage', <type>, key, location, numel) stands for.
struct StorageRef {
  StDType dtype;
  std::shared_ptr<const std::vector<uint8_t>> bytes;
};

// Unpickling state for one archive: its zip, its entry prefix and the storages loaded so far.
class TorchLoader {
 public:
  explicit TorchLoader(const std::filesystem::path& path) : zip_(path), where_("'" + path.string() + "'") {
    find_prefix();
  }

  PyPtr load() {
    UnpickleHooks hooks{
        [this](const std::string& m, const std::string& n) { return find_class(m, n); },
        [this](const PyPtr& fn, const PyPtr& args) { return reduce(fn, args); },
        [this](const PyPtr& pid) { return persistent_load(pid); }};
    return unpickle(zip_.read(prefix_ + "data.pkl"), hooks, where_ + " " + prefix_ + "data.pkl");
  }

  template <typename... Args>
  [[noreturn]] void bad(const Args&... args) const {
    fail<IOError>("torch checkpoint ", where_, ": ", args...);
  }

 private:
  // torch names every entry "<archive>/..."; the archive name varies with the torch version.
  void find_prefix() {
    for (const auto& e : zip_.entries()) {
      const std::string suffix = "/data.pkl";
      if (e.name.size() > suffix.size() && e.name.ends_with(suffix) &&
          e.name.find('/') == e.name.size() - suffix.size()) {
        prefix_ = e.name.substr(0, e.name.size() - suffix.size() + 1);
        break;
      }
    }
    if (prefix_.empty()) bad("no <archive>/data.pkl entry: not a torch.save() archive");
    if (zip_.contains(prefix_ + "byteorder")) {
      auto order = zip_.read(prefix_ + "byteorder");
      if (std::string(order.begin(), order.end()) != "little") bad("big-endian archives are not supported");
    }
  }

  PyPtr find_class(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (full != kOrderedDict && full != kRebuildTensor && full != kRebuildParameter &&
        !storage_types().count(full))
      bad("refusing pickle GLOBAL '", full, "': only state-dict types are allowed (no code is run)");
    auto v = std::make_shared<PyValue>();
    v->kind = K::Global;
    v->s = full;
    return v;
  }

  PyPtr reduce(const PyPtr& fn, const PyPtr& args) {
    if (!fn->is(K::Global) || !args->is(K::Tuple))
      bad("REDUCE of a ", fn->kind_name(), " with ", args->kind_name(), " arguments");
    if (fn->s == kOrderedDict) {
      auto d = std::make_shared<PyValue>();
      d->kind = K::Dict;
      return d;
    }
    if (fn->s == kRebuildTensor) return rebuild_tensor(args->items);
    if (fn->s == kRebuildParameter && !args->items.empty()) return args->items[0];
    bad("calling '", fn->s, "' is not allowed");
  }

  PyPtr persistent_load(const PyPtr& pid) {
    const auto& t = pid->items;
    if (!pid->is(K::Tuple) || t.size() != 5 || !t[0]->is(K::Str) || t[0]->s != "storage" ||
        !t[1]->is(K::Global) || !t[2]->is(K::Str) || !t[4]->is(K::Int))
      bad("unexpected persistent id (want ('storage', type, key, location, numel))");
    const StDType dtype = storage_types().at(t[1]->s);  // find_class only lets storages through
    const std::string& key = t[2]->s;
    auto& bytes = storages_[key];
    if (!bytes) {
      auto blob = zip_.read(prefix_ + "data/" + key);
      bytes = std::make_shared<const std::vector<uint8_t>>(blob.begin(), blob.end());
    }
    const uint64_t want = uint64_t(t[4]->i) * st_dtype_size(dtype);
    if (t[4]->i < 0 || bytes->size() != want)
      bad("storage '", key, "' has ", bytes->size(), " bytes, expected ", t[4]->i, " x ",
          st_dtype_name(dtype));
    auto v = std::make_shared<PyValue>();
    v->kind = K::Object;
    v->object = StorageRef{dtype, bytes};
    return v;
  }

  std::vector<int64_t> ints(const PyPtr& v, const char* what) const {
    if (!v->is(K::Tuple)) bad("_rebuild_tensor_v2: ", what, " is a ", v->kind_name(), ", not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : v->items) {
      if (!x->is(K::Int) || x->i < 0) bad("_rebuild_tensor_v2: ", what, " holds a non-index value");
      out.push_back(x->i);
    }
    return out;
  }

  PyPtr rebuild_tensor(const std::vector<PyPtr>& a) {
    if (a.size() < 4 || !a[0]->is(K::Object) || !a[0]->object.has_value() || !a[1]->is(K::Int))
      bad("_rebuild_tensor_v2 called with unexpected arguments");
    const auto* storage = std::any_cast<StorageRef>(&a[0]->object);
    if (!storage) bad("_rebuild_tensor_v2: first argument is not a storage");
    TorchTensorRecord r;
    r.dtype = storage->dtype;
    r.storage = storage->bytes;
    r.storage_offset = a[1]->i;
    r.shape = ints(a[2], "size");
    r.strides = ints(a[3], "stride");
    if (r.shape.size() != r.strides.size()) bad("_rebuild_tensor_v2: size and stride ranks differ");
    check_in_storage(r);
    auto v = std::make_shared<PyValue>();
    v->kind = K::Object;
    v->object = std::move(r);
    return v;
  }

  // The furthest element a view reaches must lie inside its storage (no overflow either).
  void check_in_storage(const TorchTensorRecord& r) const {
    const int64_t n = int64_t(r.storage->size() / st_dtype_size(r.dtype));
    if (r.storage_offset < 0) bad("negative storage offset ", r.storage_offset);
    int64_t last = r.storage_offset;
    for (size_t d = 0; d < r.shape.size(); ++d) {
      int64_t reach;
      if (r.shape[d] == 0) return;  // empty: touches nothing
      if (__builtin_mul_overflow(r.shape[d] - 1, r.strides[d], &reach) ||
          __builtin_add_overflow(last, reach, &last))
        bad("tensor view of shape ", shape_str(r.shape), " overflows");
    }
    if (last >= n)
      bad("tensor view (shape ", shape_str(r.shape), ", strides ", shape_str(r.strides),
          ", offset ", r.storage_offset, ") reaches past its ", n, "-element storage");
  }

  ZipArchive zip_;
  std::string where_;
  std::string prefix_;  // "<archive>/"
  std::map<std::string, std::shared_ptr<const std::vector<uint8_t>>> storages_;
};

}  // namespace

int64_t TorchTensorRecord::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool TorchTensorRecord::is_contiguous() const {
  int64_t expected = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

std::vector<TorchTensorRecord> read_torch_state_dict(const std::filesystem::path& path) {
  if (!ZipArchive::is_zip(path)) {
    check<IOError>(std::filesystem::exists(path), "torch checkpoint '", path.string(), "' does not exist");
    fail<IOError>("torch checkpoint '", path.string(),
                  "' is not a zip archive: legacy (torch < 1.6) files are not supported; "
                  "re-save it with a newer torch or convert it to safetensors");
  }
  TorchLoader loader(path);
  PyPtr top = loader.load();
  if (!top->is(K::Dict)) loader.bad("the pickled object is a ", top->kind_name(), ", not a state dict");
  std::vector<TorchTensorRecord> out;
  for (const auto& [k, v] : top->dict) {
    if (!k->is(K::Str)) loader.bad("state dict key is a ", k->kind_name(), ", not a str");
    const auto* rec = v->is(K::Object) ? std::any_cast<TorchTensorRecord>(&v->object) : nullptr;
    if (!rec) loader.bad("state dict entry '", k->s, "' is a ", v->kind_name(), ", not a tensor");
    out.push_back(*rec);
    out.back().name = k->s;
  }
  return out;
}

std::vector<uint8_t> contiguous_bytes(const TorchTensorRecord& t) {
  const size_t item = st_dtype_size(t.dtype);
  std::vector<uint8_t> out(size_t(t.numel()) * item);
  if (out.empty()) return out;
  if (t.is_contiguous()) {
    std::memcpy(out.data(), t.first_element(), out.size());
    return out;
  }
  // Walk the elements in row-major order with an odometer over the dims.
  const size_t rank = t.shape.size();
  std::vector<int64_t> idx(rank, 0);
  int64_t src = 0;  // element offset from first_element()
  for (size_t i = 0; i < size_t(t.numel()); ++i) {
    std::memcpy(out.data() + i * item, t.first_element() + src * int64_t(item), item);
    for (size_t d = rank; d-- > 0;) {
      src += t.strides[d];
      if (++idx[d] < t.shape[d]) break;
      src -= t.strides[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace engine::io
