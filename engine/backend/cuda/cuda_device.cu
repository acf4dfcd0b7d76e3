// CUDA runtime glue: device discovery, a caching device allocator on stream-ordered memory
// pools (cudaMallocAsync: freed blocks return to the pool, not to the driver), and copies.
// Every runtime call is checked and turned into a typed error carrying the call's text.
#include "engine/backend/cuda/cuda_device.h"

#include <cuda_runtime.h>

#include <mutex>

namespace engine::cuda {
namespace {

#define CUDA_CHECK(call)                                                                  \
  do {                                                                                    \
    cudaError_t err_ = (call);                                                            \
    if (err_ != cudaSuccess)                                                              \
      fail<Error>("[cuda] ", #call, " failed: ", cudaGetErrorString(err_));              \
  } while (0)

class PoolAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    void* p = nullptr;
    CUDA_CHECK(cudaMallocAsync(&p, nbytes, 0));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use += nbytes;
    stats_.allocations++;
    stats_.peak = std::max(stats_.peak, stats_.in_use);
    return p;
  }
  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    cudaFreeAsync(p, 0);  // never throw from a destructor path
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use -= nbytes;
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
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess) cudaMemPoolTrimTo(pool, 0);
  }

 private:
  mutable std::mutex mu_;
  MemoryStats stats_;
};

void ensure_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    static PoolAllocator allocator;
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess) {
      uint64_t keep = UINT64_MAX;  // keep freed memory cached in the pool
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    register_allocator(DeviceType::cuda, &allocator);
  });
}

// Registers the allocator at load time when a GPU is present.
const bool registered = [] {
  if (device_count() > 0) ensure_allocator();
  return true;
}();

}  // namespace

bool built() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

bool available() { return device_count() > 0; }

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  check<NoKernelError>(available(), "[to_device] no CUDA device is present (", src_device.str(), " -> ",
                       dst_device.str(), ")");
  cudaMemcpyKind kind = src_device.is_cpu() ? (dst_device.is_cpu() ? cudaMemcpyHostToHost : cudaMemcpyHostToDevice)
                                            : (dst_device.is_cpu() ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice);
  CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, 0));
  CUDA_CHECK(cudaStreamSynchronize(0));
}

}  // namespace engine::cuda
