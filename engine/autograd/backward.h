// Reverse-mode differentiation over the recorded graph.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace engine::autograd {

// Accumulates d(root)/d(leaf) into every leaf that requires grad. `grad` defaults to 1 for
// a scalar root. Unless retain_graph, each node's saved tensors and vjp are freed as soon
// as it has run, so peak memory falls during backward and a second call fails clearly.
void backward(const Tensor& root, const Tensor& grad = {}, bool retain_graph = false);

// Gradients of `output` with respect to `inputs` (which must require grad), returned
// instead of accumulated; leaves outside `inputs` still accumulate as usual. Used by
// gradient checkpointing and gradcheck.
std::vector<Tensor> grad(const Tensor& output, const Tensor& grad_output,
                         const std::vector<Tensor>& inputs, bool retain_graph = false);

}  // namespace engine::autograd
