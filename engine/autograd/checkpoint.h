// Gradient checkpointing: trade compute for memory. checkpoint(fn, inputs) runs fn without
// recording a graph (no activations inside fn are saved), and records a single node that
// saves only the inputs. Its vjp re-runs fn with grad enabled on detached copies of the
// inputs and backpropagates through that fresh graph: the gradients of the inputs flow on
// to the outer graph, and parameter leaves used inside fn accumulate their .grad as usual.
//
// Randomness: fn must draw its randomness (dropout) only from the generators listed in
// `generators` (default: the default generator; pass each nn::Dropout's generator()). Their
// states are snapshotted before the forward run; the recompute restores the snapshot, so it
// replays the very same dropout masks, and afterwards puts the generators back where they
// were, so checkpointing never shifts later random draws. The generators must outlive
// backward.
//
// Contract: fn reaches every tensor that requires grad either through `inputs` or as a leaf
// (a parameter); a non-leaf from outside fn captured in its closure would be backpropagated
// twice. If no input requires grad (e.g. the first layer over frozen embeddings), list the
// parameters fn uses in `params` so the node is still recorded when any of them trains.
#pragma once
#include <functional>
#include <vector>

#include "engine/core/tensor.h"

namespace engine::autograd {

using CheckpointFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct CheckpointOptions {
  std::vector<Tensor> params;                                   // leaves fn uses (may train)
  std::vector<Generator*> generators{&default_generator()};  // the randomness fn draws
};

Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs,
                  const CheckpointOptions& options = {});

}  // namespace engine::autograd

namespace engine {
using autograd::checkpoint;
}
