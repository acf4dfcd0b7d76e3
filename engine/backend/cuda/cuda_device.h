// The CUDA backend's host-side entry points. Compiled in every build: without ENGINE_CUDA
// (no nvcc) they report that no GPU support was built; with it they talk to the runtime.
// Ops without a CUDA kernel throw NoKernelError("no cuda kernel for <op>").
#pragma once
#include "engine/core/tensor.h"

namespace engine::cuda {

bool built();          // compiled with ENGINE_CUDA
int device_count();    // 0 without a driver/GPU (never throws)
bool available();      // built() && device_count() > 0

// Copies between host and device memory (contiguous src into contiguous dst of equal size).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace engine::cuda
