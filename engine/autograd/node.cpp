#include "engine/autograd/node.h"

#include "engine/autograd/grad_mode.h"
#include "engine/core/counters.h"

namespace engine::autograd {

bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Recorder::Recorder(const char* op, std::initializer_list<Tensor> inputs) {
  init(op, std::vector<Tensor>(inputs));
}
Recorder::Recorder(const char* op, const std::vector<Tensor>& inputs) { init(op, inputs); }

void Recorder::init(const char* op, const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return;
  bool any = false;
  for (const Tensor& t : inputs) any |= t.defined() && t.requires_grad();
  if (!any) return;
  node_ = std::make_shared<Node>();
  node_->op = op;
  for (const Tensor& t : inputs) {
    bool needs = t.defined() && t.requires_grad();
    node_->needs_grad.push_back(needs);
    Edge e;
    if (needs) {
      if (t.grad_fn()) e.node = t.grad_fn();
      else e.leaf = t.impl_ptr();
    }
    node_->next.push_back(std::move(e));
  }
}

void Recorder::save(std::vector<Tensor> tensors) {
  int64_t bytes = 0;
  for (Tensor& t : tensors) {
    if (!t.defined()) continue;
    bytes += int64_t(t.nbytes());
    t = t.detach();
  }
  count_saved_bytes(bytes);
  node_->saved = std::move(tensors);
}

Tensor Recorder::finish(Tensor out, VjpFn vjp) {
  node_->vjp = std::move(vjp);
  node_->out_shape = out.shape();
  node_->out_dtype = out.dtype();
  count_node();
  // `out` may be a view sharing its impl with nobody else; attach the node to it.
  out.impl()->grad_fn = node_;
  out.impl()->requires_grad = true;
  return out;
}

}  // namespace engine::autograd
