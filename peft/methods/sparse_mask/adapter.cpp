// Random sparse masks: per matrix, the k entries with the smallest of a seeded uniform key
// each (a uniform k-subset, independent of thread count: the keys come from Philox).
#include "peft/methods/sparse_mask/adapter.h"

#include <algorithm>
#include <numeric>

#include "engine/engine.h"
#include "peft/methods/selective_common/entries.h"

namespace peft::sparse_mask {

void SparseMaskAdapter::choose(models::PretrainedModel& model, uint64_t seed) {
  const auto& c = static_cast<const SparseMaskConfig&>(config());
  engine::Generator gen(seed);
  for (const auto& [name, w] : selective::linear_weights(model, c)) {
    const int64_t k = selective::budget(c.mask_fraction, w.numel());
    std::vector<float> key = engine::rand({w.numel()}, engine::DType::f32, gen).to_vector<float>();
    std::vector<int64_t> idx(key.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::nth_element(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
      return key[a] != key[b] ? key[a] < key[b] : a < b;
    });
    idx.resize(k);
    train_entries(name, w, std::move(idx));
  }
}

}  // namespace peft::sparse_mask
