// Butterfly permutations (see butterfly.h).
#include "peft/methods/boft/butterfly.h"

#include <numeric>
#include <string>

#include "engine/engine.h"

namespace peft::boft {

namespace {

// peft's sort_block: the r-sized groups of a block taken at even positions first, then odd.
std::vector<int64_t> sort_block(int64_t block_size, int64_t r) {
  const double step = static_cast<double>(block_size) / static_cast<double>(r);
  std::vector<int64_t> seq;
  for (int64_t p = 0; static_cast<double>(p) < step; p += 2) seq.push_back(p);
  for (int64_t p = 1; static_cast<double>(p) < step; p += 2) seq.push_back(p);
  std::vector<int64_t> order(static_cast<size_t>(block_size));
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> sorted = order;
  for (size_t i = 0; i < seq.size(); ++i)
    for (int64_t j = 0; j < r; ++j) sorted[i * r + j] = order[seq[i] * r + j];
  return sorted;
}

}  // namespace

std::vector<int64_t> block_butterfly_perm(int64_t n, int64_t blocks, int64_t r, int64_t n_butterfly_factor) {
  std::vector<int64_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), 0);
  if (n_butterfly_factor == 0) return indices;
  engine::check<engine::ValueError>(blocks * r * 2 <= n, "[BOFT] invalid number of blocks: ", blocks, " blocks of ",
                                    2 * r, " exceed ", n, " features");
  const int64_t block_size = n / blocks;
  const std::vector<int64_t> order = sort_block(block_size, r);
  for (int64_t start = 0; start < n; start += block_size) {
    std::vector<int64_t> chunk(indices.begin() + start, indices.begin() + start + block_size);
    for (int64_t j = 0; j < block_size; ++j) indices[start + j] = chunk[order[j]];
  }
  return indices;
}

engine::Tensor perm_matrix(const std::vector<int64_t>& perm) {
  const int64_t n = static_cast<int64_t>(perm.size());
  std::vector<float> v(static_cast<size_t>(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i) v[i * n + perm[i]] = 1.0f;
  return engine::from_vector(v, {n, n});
}

std::vector<int64_t> perm_from_matrix(const engine::Tensor& p, const std::string& what) {
  const int64_t n = p.size(0);
  const std::vector<double> v = p.to_vector<double>();
  std::vector<int64_t> perm(static_cast<size_t>(n), -1);
  std::vector<bool> used(static_cast<size_t>(n), false);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const double x = v[i * n + j];
      engine::check<engine::ValueError>(x == 0.0 || x == 1.0, "[BOFT] ", what, " is not a permutation matrix (entry ",
                                        i, ",", j, " = ", x, ")");
      if (x == 1.0) {
        engine::check<engine::ValueError>(perm[i] < 0 && !used[j], "[BOFT] ", what, " is not a permutation matrix (row ", i, ")");
        perm[i] = j, used[j] = true;
      }
    }
    engine::check<engine::ValueError>(perm[i] >= 0, "[BOFT] ", what, " is not a permutation matrix (row ", i, " is zero)");
  }
  return perm;
}

}  // namespace peft::boft
