// ZIP structures (APPNOTE.TXT): end of central directory record (+ its ZIP64 form), central
// directory headers, local headers. Every read is bounds-checked against the mapping.
#include "engine/io/zip_archive.h"

#include <fstream>

#include "engine/core/error.h"
#include "engine/io/st_detail.h"

namespace engine::io {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50, kEnd64LocatorSig = 0x07064b50;
constexpr uint32_t k32Max = 0xffffffffu;

// A bounds-checked cursor over the mapped file.
struct Bytes {
  const std::filesystem::path& path;
  const uint8_t* data;
  size_t size;

  const uint8_t* at(uint64_t offset, uint64_t n, const char* what) const {
    check<IOError>(offset <= size && n <= size - offset, "zip '", path.string(), "': ", what,
                   " at offset ", offset, " runs past the end of the file (truncated?)");
    return data + offset;
  }
  uint64_t le(uint64_t offset, int n, const char* what) const {
    return detail::load_le(at(offset, n, what), n);
  }
};

// Scans backwards for the end-of-central-directory record (it may be followed by a comment).
uint64_t find_end_record(const Bytes& b) {
  check<IOError>(b.size >= 22, "'", b.path.string(), "' is not a zip archive (too short)");
  const uint64_t lowest = b.size >= 22 + 65535 ? b.size - 22 - 65535 : 0;
  for (uint64_t pos = b.size - 22 + 1; pos-- > lowest;)
    if (detail::load_le32(b.data + pos) == kEndSig) return pos;
  fail<IOError>("'", b.path.string(), "' is not a zip archive (no end of central directory)");
}

// Sizes and offset overridden by the ZIP64 extra field (id 1), in its fixed order.
void apply_zip64_extra(const Bytes& b, uint64_t extra, uint64_t len, ZipArchive::Entry& e) {
  for (uint64_t p = extra; p + 4 <= extra + len;) {
    const uint16_t id = uint16_t(b.le(p, 2, "extra field")), n = uint16_t(b.le(p + 2, 2, "extra field"));
    uint64_t q = p + 4;
    if (id == 1) {
      for (uint64_t* field : {&e.size, &e.compressed_size, &e.local_header_offset})
        if (*field == k32Max) *field = b.le(q, 8, "zip64 extra field"), q += 8;
      return;
    }
    p += 4 + n;
  }
}

}  // namespace

ZipArchive::ZipArchive(const std::filesystem::path& path)
    : file_(std::make_shared<const MappedFile>(path)) {
  const Bytes b{file_->path(), file_->data(), file_->size()};
  const uint64_t end = find_end_record(b);
  uint64_t count = b.le(end + 10, 2, "end record");
  uint64_t cd_size = b.le(end + 12, 4, "end record");
  uint64_t cd_offset = b.le(end + 16, 4, "end record");
  // ZIP64: the locator sits just before the end record and points at the 64-bit record.
  if (end >= 20 && b.le(end - 20, 4, "zip64 locator") == kEnd64LocatorSig) {
    const uint64_t rec = b.le(end - 20 + 8, 8, "zip64 locator");
    check<IOError>(b.le(rec, 4, "zip64 end record") == kEnd64Sig, "zip '", path.string(),
                   "': bad zip64 end of central directory signature");
    count = b.le(rec + 32, 8, "zip64 end record");
    cd_size = b.le(rec + 40, 8, "zip64 end record");
    cd_offset = b.le(rec + 48, 8, "zip64 end record");
  }
  b.at(cd_offset, cd_size, "central directory");
  read_central_directory(cd_offset, cd_size, count);
}

void ZipArchive::read_central_directory(uint64_t offset, uint64_t size, uint64_t count) {
  const Bytes b{file_->path(), file_->data(), file_->size()};
  const uint64_t limit = offset + size;
  uint64_t p = offset;
  for (uint64_t i = 0; i < count; ++i) {
    check<IOError>(p + 46 <= limit && b.le(p, 4, "central directory") == kCentralSig, "zip '",
                   path().string(), "': corrupt central directory entry ", i);
    Entry e;
    e.method = uint16_t(b.le(p + 10, 2, "central directory"));
    e.compressed_size = b.le(p + 20, 4, "central directory");
    e.size = b.le(p + 24, 4, "central directory");
    const uint64_t name_len = b.le(p + 28, 2, "central directory");
    const uint64_t extra_len = b.le(p + 30, 2, "central directory");
    const uint64_t comment_len = b.le(p + 32, 2, "central directory");
    e.local_header_offset = b.le(p + 42, 4, "central directory");
    e.name.assign(reinterpret_cast<const char*>(b.at(p + 46, name_len, "entry name")), name_len);
    apply_zip64_extra(b, p + 46 + name_len, extra_len, e);
    index_[e.name] = entries_.size();
    entries_.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
}

std::span<const uint8_t> ZipArchive::read(const std::string& name) const {
  auto it = index_.find(name);
  check<IOError>(it != index_.end(), "zip '", path().string(), "' has no entry '", name, "'");
  const Entry& e = entries_[it->second];
  check<IOError>(e.method == 0 && e.compressed_size == e.size, "zip '", path().string(),
                 "': entry '", name, "' is compressed (method ", e.method,
                 "); only stored (uncompressed) entries are supported, as torch.save writes them");
  const Bytes b{file_->path(), file_->data(), file_->size()};
  const uint64_t h = e.local_header_offset;
  check<IOError>(b.le(h, 4, "local header") == kLocalSig, "zip '", path().string(),
                 "': bad local header for entry '", name, "'");
  const uint64_t start = h + 30 + b.le(h + 26, 2, "local header") + b.le(h + 28, 2, "local header");
  return {b.at(start, e.size, "entry data"), static_cast<size_t>(e.size)};
}

bool ZipArchive::is_zip(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t sig[4] = {};
  in.read(reinterpret_cast<char*>(sig), 4);
  return in.gcount() == 4 && detail::load_le32(sig) == kLocalSig;
}

}  // namespace engine::io
