// Dataset helpers (see dataset.h).
#include "app/train/dataset.h"

#include "app/data/shuffle.h"

namespace app::train {

std::vector<size_t> Dataset::epoch_order(uint64_t seed) const {
  if (order) return order(seed);
  return data::shuffled_indices(size, seed);
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace app::train
