// Linear, Embedding and Dropout: thin modules over the linalg and indexing ops, with
// torch.nn's parameter names and default initialisation.
#include "engine/nn/layers.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/ops/indexing.h"

namespace engine::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, WeightLayout layout, DType dtype)
    : in_(in_features), out_(out_features), layout_(layout) {
  check<ValueError>(in_features > 0 && out_features > 0, "[Linear] features must be positive, got in=",
                    in_features, " out=", out_features);
  // Zeros, not random: most layers are overwritten by a checkpoint right away, and a fresh
  // layer gets torch's init from an explicit Generator through reset_parameters.
  Shape w = layout == WeightLayout::out_in ? Shape{out_features, in_features} : Shape{in_features, out_features};
  register_parameter("weight", zeros(w, dtype));
  if (bias) register_parameter("bias", zeros({out_features}, dtype));
}

Tensor Linear::bias() const {
  for (const auto& [name, t] : own_parameters())
    if (name == "bias") return t;
  return {};
}

Tensor Linear::forward(const Tensor& x) {
  return linear(x, weight(), bias(), layout_);  // [..., in] -> [..., out]
}

void Linear::reset_parameters(Generator& gen) {
  NoGradGuard no_grad;
  // kaiming_uniform_(a=√5): gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√fan_in; fan_in is
  // `in` for either layout (torch computes it from the [out, in] tensor; Conv1D's own init
  // differs, but a Conv1D made here is new, so torch's Linear init is the sensible default).
  const double bound = 1.0 / std::sqrt(double(in_));
  copy_(weight(), uniform(weight().shape(), -bound, bound, weight().dtype(), gen));
  if (has_param("bias")) copy_(param("bias"), uniform({out_}, -bound, bound, param("bias").dtype(), gen));
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx, DType dtype)
    : num_(num_embeddings), dim_(dim), padding_idx_(padding_idx) {
  check<ValueError>(num_embeddings > 0 && dim > 0, "[Embedding] sizes must be positive, got ",
                    num_embeddings, " x ", dim);
  check<ValueError>(padding_idx >= -1 && padding_idx < num_embeddings, "[Embedding] padding_idx ",
                    padding_idx, " out of range for ", num_embeddings, " embeddings");
  register_parameter("weight", zeros({num_embeddings, dim}, dtype));
}

Tensor Embedding::forward(const Tensor& ids) {
  return embedding(ids, weight(), padding_idx_);  // [...] -> [..., dim]
}

void Embedding::reset_parameters(Generator& gen) {
  NoGradGuard no_grad;
  copy_(weight(), normal(weight().shape(), 0.0, 1.0, weight().dtype(), gen));  // torch: N(0, 1)
  if (padding_idx_ >= 0) fill_(weight().select(0, padding_idx_), 0.0);        // and a zero pad row
}

Dropout::Dropout(double p, uint64_t seed) : p_(p), gen_(seed) {
  check<ValueError>(p >= 0.0 && p <= 1.0, "[Dropout] p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), gen_); }

}  // namespace engine::nn

namespace engine::nn {

// ---- deep copies (PEFT trains copies of layers: modules_to_save, LN tuning)

ModulePtr Linear::clone() const {
  const Tensor& w = own_parameters().front().second;
  auto copy = std::make_shared<Linear>(in_, out_, has_param("bias"), layout_, w.dtype());
  copy_tensors_into(*copy);
  copy->train(is_training());
  return copy;
}

ModulePtr Embedding::clone() const {
  auto copy = std::make_shared<Embedding>(num_, dim_, padding_idx_, own_parameters().front().second.dtype());
  copy_tensors_into(*copy);
  copy->train(is_training());
  return copy;
}

ModulePtr Dropout::clone() const {
  auto copy = std::make_shared<Dropout>(p_);
  copy->gen_ = gen_;
  copy->train(is_training());
  return copy;
}

}  // namespace engine::nn
