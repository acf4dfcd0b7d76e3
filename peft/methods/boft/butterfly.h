// BOFT's butterfly permutations (peft 0.11.1 `block_butterfly_perm` / `perm2mat`): factor i
// of m groups the features so that its block-diagonal rotation mixes blocks 2^i apart,
// the way an FFT butterfly does. With one factor the permutation is the identity.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace peft::boft {

// The permutation of n features for `blocks` blocks of base size r (peft's arguments
// n, b, r, n_butterfly_factor, with n_butterfly_factor = config value − 1).
std::vector<int64_t> block_butterfly_perm(int64_t n, int64_t blocks, int64_t r, int64_t n_butterfly_factor);

// P [n, n] with P[i, perm[i]] = 1 (peft's perm2mat).
engine::Tensor perm_matrix(const std::vector<int64_t>& perm);

// perm back from a permutation matrix [n, n] (the file's boft_P); ValueError naming `what`
// when the matrix is not a permutation.
std::vector<int64_t> perm_from_matrix(const engine::Tensor& p, const std::string& what);

}  // namespace peft::boft
