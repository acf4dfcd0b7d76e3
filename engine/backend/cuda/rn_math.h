// Correctly rounded f32 arithmetic for per-element maths shared by host and device
// (__host__ __device__ under nvcc, plain inline functions elsewhere). On the device each
// operation is an explicit round-to-nearest intrinsic, which nvcc never contracts into an
// FMA; on the host (x86-64 baseline, no FMA, no -ffast-math) the plain operators round the
// same way. So an update written with these gives the same bits on both sides, and the CPU
// unit tests of such functions say what the kernels compute. A plain C++17 header.
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define ENGINE_HD __host__ __device__ __forceinline__
#else
#define ENGINE_HD inline
#endif

namespace engine::cuda::rn {

ENGINE_HD float add(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
ENGINE_HD float sub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
ENGINE_HD float mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
ENGINE_HD float div(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
ENGINE_HD float sqrt(float a) {
#ifdef __CUDA_ARCH__
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

}  // namespace engine::cuda::rn
