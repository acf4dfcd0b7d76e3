// OFT on Linear layers (see layer.h and README.md).
#include "peft/methods/oft/layer.h"

#include <cmath>

#include "engine/engine.h"
#include "peft/methods/oft/cayley.h"

namespace peft::oft {

namespace nn = engine::nn;
using engine::DType;

OftLinear::OftLinear(nn::ModulePtr base) : TunerLayer(std::move(base)) {
  nn::Linear* linear = base_linear();
  engine::check<engine::ValueError>(linear != nullptr, "[OFT] cannot wrap a ", base_layer().type_name());
  out_ = linear->out_features();
  params_ = register_module("oft_r", std::make_shared<ParameterDict>());
}

void OftLinear::add_adapter(const std::string& name, const OftSettings& s, engine::Generator& gen) {
  engine::check<engine::ValueError>(!has_adapter(name), "[OFT] layer already has adapter '", name, "'");
  const int64_t b = (out_ + s.r - 1) / s.r;  // ceil(out / r), peft's block size
  const engine::Shape shape = {s.block_share ? 1 : s.r, b, b};
  // Kaiming-uniform(a=√5) on [r, b, b]: fan_in = b·b, bound = 1/√fan_in = 1/b.
  Tensor r = s.init_weights ? engine::zeros(shape) : engine::uniform(shape, -1.0 / b, 1.0 / b, DType::f32, gen);
  params_->add(name, r);
  settings_[name] = s;
  dropout_gen_.emplace(name, engine::Generator(gen.seed() + 7919 * (gen.advance(1) + 1)));
}

void OftLinear::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  params_->erase(name);
  settings_.erase(name);
  dropout_gen_.erase(name);
}

std::vector<std::pair<std::string, Tensor>> OftLinear::adapter_tensors(const std::string& name) const {
  return {{"oft_r", oft_r(name)}};
}

void OftLinear::project_coft(const std::string& name) const {
  const OftSettings& s = settings_.at(name);
  Tensor& r = oft_r(name);
  const int64_t blocks = r.size(0), b = r.size(1);
  // peft: eps·b² per layer, then / √(number of blocks); blocks outside the ball are scaled onto it.
  const double radius = s.eps * static_cast<double>(b * b) / std::sqrt(static_cast<double>(blocks));
  std::vector<double> v = r.to_vector<double>();
  for (int64_t k = 0; k < blocks; ++k) {
    double norm2 = 0;
    for (int64_t i = 0; i < b * b; ++i) norm2 += v[k * b * b + i] * v[k * b * b + i];
    const double norm = std::sqrt(norm2);
    if (norm <= radius) continue;
    for (int64_t i = 0; i < b * b; ++i) v[k * b * b + i] *= radius / norm;
  }
  engine::NoGradGuard no_grad;
  engine::copy_(r, engine::from_vector(v, r.shape()));
}

Tensor OftLinear::rotation_blocks(const std::string& name) const {
  const OftSettings& s = settings_.at(name);
  if (s.coft) project_coft(name);
  Tensor q = cayley(oft_r(name));  // [r or 1, b, b]
  return s.block_share ? engine::expand(q, {s.r, q.size(1), q.size(2)}) : q;
}

Tensor OftLinear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  nn::Linear& linear = *base_linear();
  // The bias is added after the rotation (peft subtracts it from base(x) and adds it back).
  Tensor y = engine::linear(x, linear.weight(), {}, linear.layout());  // [..., out], frozen W
  for (const std::string& name : adapters) {
    const double p = settings_.at(name).module_dropout;
    if (is_training() && p > 0 && engine::rand({1}, DType::f64, dropout_gen_.at(name)).item<double>() <= p) continue;
    y = block_diag_apply(y, rotation_blocks(name));  // [..., out] @ R [out, out]
  }
  const Tensor bias = linear.bias();
  return bias.defined() ? y + bias : y;
}

// W' = Rᵀ·W merges (y = x·Wᵀ·R = x·(RᵀW)ᵀ); (Rᵀ)⁻¹·W' unmerges. R is orthogonal unless
// the blocks overhang `out` and peft's slice cuts the last one, so unmerge inverts (as peft).
void OftLinear::rotate_base_weight(const std::string& name, bool merge) {
  engine::NoGradGuard no_grad;
  nn::Linear& linear = *base_linear();
  const bool out_in = linear.layout() == engine::WeightLayout::out_in;
  Tensor w = engine::to_dtype(out_in ? linear.weight() : linear.weight().t(), DType::f32);  // [out, in]
  Tensor rt = engine::to_dtype(block_diag(rotation_blocks(name), out_), DType::f32).t();   // Rᵀ [out, out]
  if (!merge) rt = batched_inverse(rt.unsqueeze(0)).squeeze(0);                            // (Rᵀ)⁻¹
  Tensor rotated = engine::matmul(rt, w);                                                   // [out, in]
  engine::copy_(linear.weight(), out_in ? rotated : rotated.t());
}

void OftLinear::merge_into_base(const std::string& name) { rotate_base_weight(name, /*merge=*/true); }
void OftLinear::unmerge_from_base(const std::string& name) { rotate_base_weight(name, /*merge=*/false); }

}  // namespace peft::oft
