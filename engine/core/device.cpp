#include "engine/core/device.h"

#include <array>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "engine/core/error.h"

namespace engine {

std::string Device::str() const {
  return type == DeviceType::cpu ? "cpu" : "cuda:" + std::to_string(index);
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu();
  if (s == "cuda") return Device::cuda(0);
  if (s.rfind("cuda:", 0) == 0) return Device::cuda(std::stoi(s.substr(5)));
  fail<ValueError>("unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

namespace {

// Caching CPU allocator: sizes are rounded up to a bucket (powers of two split in four
// steps) and freed blocks are kept per bucket for reuse. 64-byte alignment suits AVX-512.
class CpuCachingAllocator final : public Allocator {
 public:
  ~CpuCachingAllocator() override { empty_cache(); }

  void* allocate(size_t nbytes) override {
    size_t size = bucket(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      stats_.cached -= size;
    } else {
      p = std::aligned_alloc(64, size);
      if (!p) {  // free the cache and try once more before giving up
        release_all_locked();
        p = std::aligned_alloc(64, size);
        if (!p) throw std::bad_alloc();
      }
    }
    stats_.in_use += size;
    stats_.allocations++;
    if (stats_.in_use > stats_.peak) stats_.peak = stats_.in_use;
    return p;
  }

  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    size_t size = bucket(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use -= size;
    if (size > kMaxCachedBlock) {
      std::free(ptr);
      return;
    }
    free_[size].push_back(ptr);
    stats_.cached += size;
  }

  MemoryStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak = stats_.in_use;
  }
  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mu_);
    release_all_locked();
  }

 private:
  static constexpr size_t kMaxCachedBlock = size_t(1) << 30;

  static size_t bucket(size_t n) {
    if (n <= 64) return 64;
    size_t p = 64;
    while (p < n) p <<= 1;
    size_t step = p / 8;  // quarter-steps between p/2 and p
    size_t b = p / 2;
    while (b < n) b += step;
    return b;
  }
  void release_all_locked() {
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    stats_.cached = 0;
  }

  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  MemoryStats stats_;
};

std::array<Allocator*, 2>& registry() {
  static CpuCachingAllocator cpu;
  static std::array<Allocator*, 2> r{&cpu, nullptr};
  return r;
}

}  // namespace

Allocator& allocator_for(Device device) {
  Allocator* a = registry()[size_t(device.type)];
  if (!a) fail<NoKernelError>("no allocator for device ", device.str(), " (built without its backend?)");
  return *a;
}

void register_allocator(DeviceType type, Allocator* allocator) { registry()[size_t(type)] = allocator; }
bool has_allocator(DeviceType type) { return registry()[size_t(type)] != nullptr; }

MemoryStats memory_stats(Device device) { return allocator_for(device).stats(); }
void reset_peak_memory(Device device) { allocator_for(device).reset_peak(); }

}  // namespace engine
