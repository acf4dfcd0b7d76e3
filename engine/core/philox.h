// Philox-4x32-10, a counter-based random generator (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC'11). Each value depends only on (seed, counter), so random tensors
// and dropout masks are identical whatever the number of threads or the device.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

#include "engine/core/philox_rounds.h"

namespace engine {

// Four 32-bit random words for (seed, counter).
inline std::array<uint32_t, 4> philox4x32(uint64_t seed, uint64_t counter) {
  std::array<uint32_t, 4> out;
  philox4x32_rounds(seed, counter, out.data());
  return out;
}

// Uniform in [0, 1) with 24 random bits, for element `index` of stream (seed, counter base).
inline float philox_uniform(uint64_t seed, uint64_t index) {
  return float(philox4x32(seed, index)[0] >> 8) * (1.0f / 16777216.0f);
}

// Standard normal for element `index` (Box–Muller on two words of the same draw).
inline double philox_normal(uint64_t seed, uint64_t index) {
  auto r = philox4x32(seed, index);
  double u1 = (double(r[0]) + 1.0) * (1.0 / 4294967297.0);  // (0, 1]
  double u2 = double(r[1]) * (1.0 / 4294967296.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace engine
