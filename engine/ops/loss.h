// Losses with their vjps. cross_entropy follows torch.nn.functional.cross_entropy on
// [N, C] logits and [N] integer targets, fused into one row kernel (backend/cpu/rowwise).
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace engine {

enum class Reduction { none, mean, sum };

// Per-row loss (1−ε)·(−log p_target) + ε·mean_c(−log p_c); rows whose target equals
// ignore_index contribute 0. Reduction mean divides by the number of non-ignored rows (NaN
// when all are ignored, like torch); none returns [N].
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     double label_smoothing = 0.0, Reduction reduction = Reduction::mean);

}  // namespace engine
