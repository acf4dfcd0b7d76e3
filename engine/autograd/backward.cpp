// The backward pass: a topological walk from the root, each node's vjp asked only for the
// gradients its inputs need; leaf gradients accumulate (compact when the leaf is masked).
#include "engine/autograd/backward.h"

#include <unordered_map>

#include "engine/autograd/grad_mask.h"
#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/core/counters.h"
#include "engine/ops/binary.h"

namespace engine::autograd {
namespace {

// Adds g into *slot (allocating on first use); never aliases g's storage into the slot.
void accumulate(std::shared_ptr<TensorImpl>& slot, const Tensor& g) {
  if (!slot) {
    Tensor owned = g.storage().use_count() == 1 && g.is_contiguous() ? g : g.clone();
    slot = owned.impl_ptr();
    return;
  }
  add_(Tensor(slot), g);
}

void accumulate_leaf(TensorImpl* leaf, Tensor g, bool already_compact) {
  if (g.dtype() != leaf->dtype) g = g.to(leaf->dtype);
  if (leaf->grad_mask && !already_compact) g = compact_grad(*leaf->grad_mask, g);
  accumulate(leaf->grad, g);
}

struct Walk {
  std::unordered_map<Node*, int> pending;  // consumers not yet processed
  std::vector<Node*> order;
};

// Counts, for every node reachable from root, how many edges point at it.
Walk plan(const std::shared_ptr<Node>& root) {
  Walk w;
  std::vector<Node*> stack{root.get()};
  w.pending[root.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (Edge& e : n->next) {
      if (!e.node) continue;
      auto [it, fresh] = w.pending.try_emplace(e.node.get(), 0);
      it->second++;
      if (fresh) stack.push_back(e.node.get());
    }
  }
  return w;
}

using Captures = std::unordered_map<TensorImpl*, std::shared_ptr<TensorImpl>>;

void run(const Tensor& root, Tensor grad, bool retain_graph, Captures* captures) {
  check<AutogradError>(root.requires_grad(), "backward() on a tensor that does not require grad");
  if (!grad.defined()) {
    check<AutogradError>(root.numel() == 1, "backward() without a gradient needs a scalar, got shape ",
                         shape_str(root.shape()));
    grad = ones(root.shape(), root.dtype(), root.device());
  }
  check<ShapeError>(grad.shape() == root.shape(), "[backward] gradient shape ", shape_str(grad.shape()),
                    " differs from the output's ", shape_str(root.shape()));
  NoGradGuard no_grad;
  BackwardScope scope;
  auto deliver_leaf = [&](const std::shared_ptr<TensorImpl>& leaf, const Tensor& g, bool compact) {
    if (captures) {
      auto it = captures->find(leaf.get());
      if (it != captures->end()) return accumulate(it->second, g);
    }
    accumulate_leaf(leaf.get(), g, compact);
  };
  if (root.is_leaf()) return deliver_leaf(root.impl_ptr(), grad, false);

  Walk w = plan(root.grad_fn());
  std::unordered_map<Node*, std::shared_ptr<TensorImpl>> grads;
  grads[root.grad_fn().get()] = grad.impl_ptr();
  std::vector<std::shared_ptr<Node>> ready{root.grad_fn()};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    check<AutogradError>(bool(node->vjp), "[backward] the graph of '", node->op,
                         "' was already freed: call backward(retain_graph=true) to run it twice");
    Tensor g(grads[node.get()]);
    grads.erase(node.get());
    std::vector<Tensor> in_grads = node->vjp(g, *node);
    for (size_t i = 0; i < node->next.size(); ++i) {
      Edge& e = node->next[i];
      if (!node->needs(i)) continue;
      check<AutogradError>(i < in_grads.size() && in_grads[i].defined(), "[backward] vjp of '",
                           node->op, "' returned no gradient for input ", i);
      bool compact = i < node->compact_grad.size() && node->compact_grad[i];
      if (e.leaf) {
        deliver_leaf(e.leaf, in_grads[i], compact);
      } else {
        accumulate(grads[e.node.get()], in_grads[i]);
        if (--w.pending[e.node.get()] == 0) ready.push_back(e.node);
      }
    }
    if (!retain_graph) {  // free the graph as we go
      node->saved.clear();
      node->vjp = nullptr;
    }
  }
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  run(root, grad, retain_graph, nullptr);
}

std::vector<Tensor> grad(const Tensor& output, const Tensor& grad_output,
                         const std::vector<Tensor>& inputs, bool retain_graph) {
  Captures captures;
  for (const Tensor& t : inputs) {
    check<AutogradError>(t.requires_grad(), "[grad] an input does not require grad");
    check<AutogradError>(t.is_leaf(), "[grad] inputs must be leaves");
    captures[t.impl()] = nullptr;
  }
  run(output, grad_output, retain_graph, &captures);
  std::vector<Tensor> out;
  for (const Tensor& t : inputs) {
    auto& g = captures[t.impl()];
    out.push_back(g ? Tensor(g) : zeros_like(t));
  }
  return out;
}

}  // namespace engine::autograd

namespace engine {
void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward(*this, gradient, retain_graph);
}
}  // namespace engine
