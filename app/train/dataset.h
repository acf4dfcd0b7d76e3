// What the training loop reads: a numbered set of examples, the order of one epoch, and a
// collate function that turns a slice of that order into a models::Batch. The trainer keeps
// the data position as (epoch, index in the epoch's order), so a resumed run asks for the same
// order and the same slices again; `collate` gets a seed derived from the run's seed and the
// micro-batch number, so random masking (BERT MLM, T5 span corruption) also replays exactly.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "models/model.h"

namespace app::train {

struct Dataset {
  size_t size = 0;
  // A permutation of 0..size-1 for the epoch seeded by `seed`; unset: a seeded shuffle.
  std::function<std::vector<size_t>(uint64_t seed)> order;
  std::function<models::Batch(std::span<const size_t> indices, uint64_t seed)> collate;

  std::vector<size_t> epoch_order(uint64_t seed) const;
};

// A 64-bit mix of two values (SplitMix64's finaliser), for deriving per-epoch and per-batch seeds.
uint64_t mix_seed(uint64_t a, uint64_t b);

}  // namespace app::train
