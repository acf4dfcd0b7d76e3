// The recorded graph. An op that has at least one input requiring grad (and grad mode on)
// creates one Node: an edge per input (to the input's producing node, or to the leaf
// itself), which inputs need a gradient, the tensors saved for backward, and the vjp.
// Inputs that need no gradient get no edge, and the vjp is told not to compute theirs:
// this is what keeps frozen parameters out of backward entirely.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "engine/core/tensor.h"

namespace engine::autograd {

struct Node;

// Computes the gradients of the node's inputs from the gradient of its output. Returns one
// entry per input; entries for inputs with !node.needs(i) stay undefined (and must not be
// computed). Tensors come from node.saved; lambdas capture only non-tensor data.
using VjpFn = std::function<std::vector<Tensor>(const Tensor& grad_out, Node& node)>;

struct Edge {
  std::shared_ptr<Node> node;        // the input's producer, or
  std::shared_ptr<TensorImpl> leaf;  // the input itself when it is a leaf that requires grad
};

struct Node {
  const char* op = "";
  std::vector<Edge> next;          // one per input
  std::vector<bool> needs_grad;    // one per input
  std::vector<Tensor> saved;       // detached; counted in the saved-bytes counter
  std::vector<bool> compact_grad;  // set by a vjp that returns a leaf's masked (compact) grad
  VjpFn vjp;
  Shape out_shape;
  DType out_dtype = DType::f32;

  bool needs(size_t i) const { return i < needs_grad.size() && needs_grad[i]; }
  // A vjp that already produced input i's gradient in its mask's compact layout says so.
  void mark_compact(size_t i) { compact_grad.resize(next.size()), compact_grad[i] = true; }
};

// How an op records itself:
//   Recorder rec("matmul", {a, b});
//   if (rec) { rec.save({rec.needs(1) ? a : Tensor{}, rec.needs(0) ? b : Tensor{}});
//              rec.finish(out, [](const Tensor& g, Node& n) { ... }); }
class Recorder {
 public:
  Recorder(const char* op, std::initializer_list<Tensor> inputs);
  Recorder(const char* op, const std::vector<Tensor>& inputs);
  explicit operator bool() const { return node_ != nullptr; }
  bool needs(size_t i) const { return node_ && node_->needs(i); }
  // Saves tensors for backward (undefined entries allowed, to keep positions stable).
  void save(std::vector<Tensor> tensors);
  // Attaches the node to `out` (which becomes a non-leaf requiring grad) and returns it.
  Tensor finish(Tensor out, VjpFn vjp);

 private:
  void init(const char* op, const std::vector<Tensor>& inputs);
  std::shared_ptr<Node> node_;
};

// True when an op on these inputs would be recorded.
bool any_requires_grad(std::initializer_list<Tensor> inputs);

}  // namespace engine::autograd
