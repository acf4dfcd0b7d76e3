// Storage: one reference-counted block of memory on a device. Tensors are views into it.
// Memory either comes from the device allocator (and goes back to it) or is borrowed from
// elsewhere (an mmap'ed safetensors file), kept alive by `owner`.
#pragma once
#include <memory>

#include "engine/core/device.h"

namespace engine {

class Storage {
 public:
  // nbytes of fresh memory from the device's allocator.
  Storage(size_t nbytes, Device device);
  // Borrowed memory: `owner` keeps it valid; nothing is freed here.
  Storage(void* data, size_t nbytes, Device device, std::shared_ptr<const void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool borrowed() const { return owner_ != nullptr; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::shared_ptr<const void> owner_;
};

}  // namespace engine
