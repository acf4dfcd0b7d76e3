// Host-side CUDA entry points for builds without nvcc (ENGINE_CUDA off).
#ifndef ENGINE_CUDA
#include "engine/backend/cuda/cuda_device.h"

namespace engine::cuda {

bool built() { return false; }
int device_count() { return 0; }
bool available() { return false; }
void copy_bytes(void*, Device dst, const void*, Device src, size_t) {
  fail<NoKernelError>("[to_device] no copy kernel from ", src.str(), " to ", dst.str(),
                      ": this build has no CUDA backend (configure with nvcc present)");
}

}  // namespace engine::cuda
#endif
