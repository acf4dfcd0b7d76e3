// Devices and their allocators. Every tensor's memory comes from its device's Allocator;
// the CPU one caches freed blocks by size so that a training step does not hit malloc per op.
// The CUDA backend registers its own allocator for DeviceType::cuda.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace engine {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  std::string str() const;  // "cpu", "cuda:0"
};

Device parse_device(const std::string& s);  // "cpu", "cuda", "cuda:1"

// Byte counts an allocator keeps, so tests and benchmarks can measure peak memory.
struct MemoryStats {
  size_t in_use = 0;   // bytes handed out and not yet returned
  size_t peak = 0;     // max of in_use since the last reset_peak()
  size_t cached = 0;   // bytes held in free lists
  size_t allocations = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
  virtual void empty_cache() = 0;  // return cached blocks to the system
};

// The allocator of a device type (cpu always; cuda once its backend registered one).
Allocator& allocator_for(Device device);
void register_allocator(DeviceType type, Allocator* allocator);
bool has_allocator(DeviceType type);

// Shorthands for the CPU allocator's statistics.
MemoryStats memory_stats(Device device = Device::cpu());
void reset_peak_memory(Device device = Device::cpu());

}  // namespace engine
