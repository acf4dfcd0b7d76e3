// Gradient utilities for the training loop: global-norm clipping (torch's clip_grad_norm_)
// and the two halves of gradient accumulation (scale the summed gradients, drop them).
// Masked parameters work through their compact gradients unchanged.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace engine::optim {

// Scales every gradient so that their global `norm_type`-norm (2, or INFINITY for max-abs)
// is at most max_norm, and returns the norm before clipping, as torch.nn.utils.clip_grad_norm_:
// coefficient min(1, max_norm / (norm + 1e-6)), applied even when it is 1. Parameters
// without a gradient are ignored. The norm is accumulated in double over fixed chunks, so
// it does not depend on the thread count.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
// The global norm alone.
double grad_norm(const std::vector<Tensor>& params, double norm_type = 2.0);

// Multiplies every gradient by s (e.g. 1/accumulation_steps when losses were summed).
void scale_grads_(const std::vector<Tensor>& params, double s);
// Drops every gradient (torch's zero_grad(set_to_none=True)).
void zero_grads(const std::vector<Tensor>& params);

}  // namespace engine::optim
