// Indexing ops: embedding lookup, index_select, gather, scatter_add; and dropout.
// Backward scatters are deterministic (fixed order, never atomics).
#pragma once
#include "engine/core/tensor.h"

namespace engine {

// weight [V, D], ids (i32/i64) [...] -> [..., D]. The weight's gradient is a deterministic
// scatter-add; if the weight carries a row mask (a few trainable rows of a large vocabulary)
// only those rows' gradient is computed, in the mask's compact layout. padding_idx rows get
// no gradient (torch's nn.Embedding padding_idx), -1 = none.
Tensor embedding(const Tensor& ids, const Tensor& weight, int64_t padding_idx = -1);

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index 1-d i64/i32
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // torch.gather
// out = x with src added at index along dim (torch.scatter_add, out-of-place).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

// Inverted dropout with a Philox mask drawn from `gen` (identity when !training or p == 0).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace engine
