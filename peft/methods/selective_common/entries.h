// Helpers shared by the selective methods (BitFit, partial freezing, diff pruning, FishMask,
// sparse masks): which base parameters are candidates, reading and writing chosen flat
// entries of a parameter exactly (bytewise, whatever its dtype), and picking the top-k
// entries over several parameters.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"
#include "models/model.h"
#include "peft/core/config.h"

namespace peft::selective {

using engine::Tensor;
using NamedParams = std::vector<std::pair<std::string, Tensor>>;

// True for parameter names inside a PEFT wrapper (modules_to_save copies and originals,
// tuner layers): those belong to another mechanism and are never selected.
bool inside_peft_wrapper(const std::string& param_name);

// The weight matrices a matrix method (diff pruning, FishMask, sparse masks) trains: the
// `weight` of each Linear / Conv1D that config.target_modules selects (PEFT's matching
// rules, exclude_modules and layers_to_transform included); null target_modules means
// "all-linear" (every linear layer but the output heads).
NamedParams linear_weights(const models::PretrainedModel& model, const TunerConfig& config);

// A copy of the values at flat `indices` (i64 [k]) of a contiguous tensor: [k], same dtype.
Tensor take_flat(const Tensor& t, const Tensor& indices);
// t.flat[indices[i]] = values[i], exactly (values converted to t's dtype first); no autograd.
void put_flat_(const Tensor& t, const Tensor& indices, const Tensor& values);
// A bool mask of `shape`, true at the flat indices (for engine::set_element_mask).
Tensor mask_of(const engine::Shape& shape, const Tensor& indices);

// The k largest entries of the scores (one f32-convertible tensor per parameter) taken
// together; returns sorted flat indices per tensor. Ties are broken by position.
std::vector<std::vector<int64_t>> top_k(const std::vector<Tensor>& scores, int64_t k);
// round(fraction · n), at least 1 when n > 0 and fraction > 0.
int64_t budget(double fraction, int64_t n);

}  // namespace peft::selective
