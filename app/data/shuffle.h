// Seeded shuffling and train/held-out splits that give the same order on every machine and
// standard library: a SplitMix64 generator and our own Fisher-Yates with unbiased bounded
// draws (std::shuffle and std::uniform_int_distribution are implementation-defined).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace app::data {

// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, passes BigCrush, fully specified.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, bound) by rejection (Lemire's multiply-shift would also do; this is simpler).
  uint64_t below(uint64_t bound);

 private:
  uint64_t state_;
};

// A permutation of 0..n-1 determined by the seed alone.
std::vector<size_t> shuffled_indices(size_t n, uint64_t seed);

template <typename T>
void seeded_shuffle(std::vector<T>& items, uint64_t seed) {
  const auto order = shuffled_indices(items.size(), seed);
  std::vector<T> out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(std::move(items[i]));
  items = std::move(out);
}

// Splits items into (train, held_out) after a seeded shuffle; the held-out part gets
// round(fraction * n) items. Items are whole examples, so every reference of one input (an
// E2E MR, a WebNLG entry) stays on the same side.
template <typename T>
std::pair<std::vector<T>, std::vector<T>> split_train_heldout(std::vector<T> items,
                                                              double heldout_fraction,
                                                              uint64_t seed);

// Rounds fraction * n to the held-out size; throws engine::ValueError unless 0 <= fraction <= 1.
size_t heldout_count(size_t n, double fraction);

template <typename T>
std::pair<std::vector<T>, std::vector<T>> split_train_heldout(std::vector<T> items,
                                                              double heldout_fraction,
                                                              uint64_t seed) {
  const size_t held = heldout_count(items.size(), heldout_fraction);
  seeded_shuffle(items, seed);
  std::vector<T> heldout(std::make_move_iterator(items.end() - held),
                         std::make_move_iterator(items.end()));
  items.resize(items.size() - held);
  return {std::move(items), std::move(heldout)};
}

}  // namespace app::data
