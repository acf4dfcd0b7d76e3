// Deterministic shuffling (see shuffle.h).
#include "app/data/shuffle.h"

#include <cmath>

#include "engine/core/error.h"

namespace app::data {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t bound) {
  // Reject the top partial block of 2^64 so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = next();
  while (x >= limit);
  return x % bound;
}

std::vector<size_t> shuffled_indices(size_t n, uint64_t seed) {
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  SplitMix64 rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
  return idx;
}

size_t heldout_count(size_t n, double fraction) {
  engine::check<engine::ValueError>(fraction >= 0 && fraction <= 1, "[split] held-out fraction ",
                                    fraction, " is not in [0, 1]");
  return static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
}

}  // namespace app::data
