// Gradient checkpointing (see checkpoint.h): a forward run without a graph, one recorded node
// that saves the inputs, and a vjp that replays fn (same generator states, same autocast
// state) and backpropagates.
#include "engine/autograd/checkpoint.h"

#include <utility>

#include "engine/autograd/backward.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/core/counters.h"
#include "engine/ops/autocast.h"

namespace engine::autograd {
namespace {

using GenStates = std::vector<std::pair<uint64_t, uint64_t>>;  // (seed, offset) per generator

GenStates snapshot(const std::vector<Generator*>& gens) {
  GenStates s;
  for (Generator* g : gens) s.emplace_back(g->seed(), g->offset());
  return s;
}

void restore(const std::vector<Generator*>& gens, const GenStates& s) {
  for (size_t i = 0; i < gens.size(); ++i) gens[i]->set_state(s[i].first, s[i].second);
}

// Sets the generators to `replay` for the scope, then back to what they were.
struct ReplayScope {
  ReplayScope(const std::vector<Generator*>& g, const GenStates& replay) : gens(g), saved(snapshot(g)) {
    restore(gens, replay);
  }
  ~ReplayScope() { restore(gens, saved); }
  const std::vector<Generator*>& gens;
  GenStates saved;
};

bool any_trainable(const std::vector<Tensor>& ts) {
  for (const Tensor& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

// Re-runs fn on detached inputs (requiring grad where the original did) and backpropagates g.
std::vector<Tensor> recompute_vjp(const CheckpointFn& fn, const std::vector<Generator*>& gens,
                                  const GenStates& states, const AutocastState& autocast, const Tensor& g, Node& n) {
  std::vector<Tensor> fresh, wanted;
  for (size_t i = 0; i < n.saved.size(); ++i) {
    Tensor t = n.saved[i].defined() ? n.saved[i].detach() : Tensor{};
    if (n.needs(i)) wanted.push_back(t.requires_grad_());
    fresh.push_back(t);
  }
  Tensor out;
  {
    ReplayScope replay(gens, states);
    AutocastReplayGuard same_casts(autocast);  // else the recompute would run in other dtypes
    EnableGradGuard grad_on;
    out = fn(fresh);
  }
  check<ShapeError>(out.shape() == n.out_shape, "[checkpoint] the recomputed output ", shape_str(out.shape()),
                    " differs from the forward's ", shape_str(n.out_shape));
  std::vector<Tensor> grads(n.saved.size());
  // The output may not depend on anything trainable (then every needed gradient is zero).
  std::vector<Tensor> got = out.requires_grad() ? grad(out, g, wanted) : std::vector<Tensor>{};
  for (size_t i = 0, w = 0; i < n.saved.size(); ++i)
    if (n.needs(i)) grads[i] = out.requires_grad() ? got[w++] : zeros_like(n.saved[i]);
  return grads;
}

}  // namespace

Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs,
                  const CheckpointOptions& options) {
  GenStates states = snapshot(options.generators);
  const AutocastState autocast = autocast_state();
  Tensor out;
  {
    NoGradGuard no_grad;  // no graph inside fn: its activations are dropped as fn runs
    out = fn(inputs).detach();  // a fresh impl, even if fn returned one of its inputs
  }
  if (!grad_enabled() || !(any_trainable(inputs) || any_trainable(options.params))) return out;

  auto node = std::make_shared<Node>();
  node->op = "checkpoint";
  for (const Tensor& t : inputs) {  // edges to the inputs that need grad (may be none)
    Edge e;
    bool needs = t.defined() && t.requires_grad();
    if (needs && t.grad_fn()) e.node = t.grad_fn();
    else if (needs) e.leaf = t.impl_ptr();
    node->next.push_back(std::move(e));
    node->needs_grad.push_back(needs);
  }
  int64_t bytes = 0;
  for (const Tensor& t : inputs) {
    node->saved.push_back(t.defined() ? t.detach() : Tensor{});
    bytes += t.defined() ? int64_t(t.nbytes()) : 0;
  }
  count_saved_bytes(bytes);
  count_node();
  std::vector<Generator*> gens = options.generators;
  node->vjp = [fn, gens, states, autocast](const Tensor& g, Node& n) {
    return recompute_vjp(fn, gens, states, autocast, g, n);
  };
  node->out_shape = out.shape();
  node->out_dtype = out.dtype();
  out.impl()->grad_fn = node;
  out.impl()->requires_grad = true;
  return out;
}

}  // namespace engine::autograd
