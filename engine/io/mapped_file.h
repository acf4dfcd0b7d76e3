// A private (copy-on-write) memory mapping of a whole file (RAII). Readers of large weight files
// use it so that bytes are paged in on demand and tensors can point straight into the file;
// writes through such tensors stay private to the process and never modify the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace engine::io {

class MappedFile {
 public:
  // Maps `path`; IOError naming the file when it cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // nullptr for an empty file
  uint8_t* mutable_data() const { return data_; }  // copy-on-write: never reaches the file
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace engine::io
