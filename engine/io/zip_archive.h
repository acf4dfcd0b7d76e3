// A minimal read-only ZIP reader (with ZIP64) over a memory mapping, for torch.save() archives.
// torch writes its entries uncompressed ("stored"), so entries are returned as views into the
// mapping; a compressed entry is an IOError naming it rather than a silent misread.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/io/mapped_file.h"

namespace engine::io {

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;          // 0 = stored, 8 = deflate, ...
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint64_t local_header_offset = 0;
  };

  // Maps `path` and reads the central directory; IOError when it is not a (sound) ZIP file.
  explicit ZipArchive(const std::filesystem::path& path);

  const std::vector<Entry>& entries() const { return entries_; }  // central directory order
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // The bytes of a stored entry, pointing into the mapping; IOError when missing or compressed.
  std::span<const uint8_t> read(const std::string& name) const;
  const std::filesystem::path& path() const { return file_->path(); }

  // True when the file starts with a ZIP local-header signature (cheap format sniffing).
  static bool is_zip(const std::filesystem::path& path);

 private:
  void read_central_directory(uint64_t offset, uint64_t size, uint64_t count);

  std::shared_ptr<const MappedFile> file_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace engine::io
