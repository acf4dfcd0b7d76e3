// The ten Philox-4x32 rounds (see philox.h) as one plain function that host code and CUDA
// kernels share, so a dropout mask drawn on the GPU is the CPU's bit for bit.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define ENGINE_PHILOX_HD __host__ __device__
#else
#define ENGINE_PHILOX_HD
#endif

namespace engine {

// The four 32-bit words of Philox-4x32-10 for (seed, counter), written to out[0..3].
ENGINE_PHILOX_HD inline void philox4x32_rounds(uint64_t seed, uint64_t counter, uint32_t out[4]) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

}  // namespace engine
