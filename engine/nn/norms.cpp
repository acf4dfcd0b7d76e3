// LayerNorm and RMSNorm modules (torch.nn.LayerNorm; HF T5LayerNorm) over the fused row ops.
#include "engine/nn/layers.h"
#include "engine/ops/normalization.h"

namespace engine::nn {

namespace {
Tensor own_param(const Module& m, const char* name) {
  for (const auto& [n, t] : m.own_parameters())
    if (n == name) return t;
  return {};
}
}  // namespace

LayerNorm::LayerNorm(int64_t dim, double eps, bool affine, DType dtype) : dim_(dim), eps_(eps) {
  check<ValueError>(dim > 0, "[LayerNorm] dim must be positive, got ", dim);
  if (!affine) return;
  register_parameter("weight", ones({dim}, dtype));
  register_parameter("bias", zeros({dim}, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) {
  check<ShapeError>(x.dim() >= 1 && x.size(-1) == dim_, "[LayerNorm] expects [..., ", dim_, "], got ",
                    shape_str(x.shape()));
  return layer_norm(x, own_param(*this, "weight"), own_param(*this, "bias"), eps_);  // [..., dim]
}

RMSNorm::RMSNorm(int64_t dim, double eps, DType dtype) : dim_(dim), eps_(eps) {
  check<ValueError>(dim > 0, "[RMSNorm] dim must be positive, got ", dim);
  register_parameter("weight", ones({dim}, dtype));
}

Tensor RMSNorm::forward(const Tensor& x) {
  check<ShapeError>(x.dim() >= 1 && x.size(-1) == dim_, "[RMSNorm] expects [..., ", dim_, "], got ",
                    shape_str(x.shape()));
  return rms_norm(x, own_param(*this, "weight"), eps_);  // [..., dim]
}

}  // namespace engine::nn

namespace engine::nn {

ModulePtr LayerNorm::clone() const {
  const bool affine = !own_parameters().empty();
  auto copy = std::make_shared<LayerNorm>(dim_, eps_, affine, affine ? own_parameters().front().second.dtype() : DType::f32);
  copy_tensors_into(*copy);
  copy->train(is_training());
  return copy;
}

ModulePtr RMSNorm::clone() const {
  auto copy = std::make_shared<RMSNorm>(dim_, eps_, own_parameters().front().second.dtype());
  copy_tensors_into(*copy);
  copy->train(is_training());
  return copy;
}

}  // namespace engine::nn
