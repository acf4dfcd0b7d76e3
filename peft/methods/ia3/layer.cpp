// (IA)³ on Linear layers (see layer.h and README.md).
#include "peft/methods/ia3/layer.h"

#include "engine/engine.h"

namespace peft::ia3 {

namespace nn = engine::nn;
using engine::DType;

Ia3Linear::Ia3Linear(nn::ModulePtr base, bool is_feedforward) : TunerLayer(std::move(base)), feedforward_(is_feedforward) {
  engine::check<engine::ValueError>(base_linear() != nullptr, "[IA3] cannot wrap a ", base_layer().type_name());
  l_ = register_module("ia3_l", std::make_shared<ParameterDict>());
}

void Ia3Linear::add_adapter(const std::string& name, bool init_ones, engine::Generator& gen) {
  engine::check<engine::ValueError>(!has_adapter(name), "[IA3] layer already has adapter '", name, "'");
  const nn::Linear& linear = *base_linear();
  const engine::Shape shape = feedforward_ ? engine::Shape{1, linear.in_features()} : engine::Shape{linear.out_features(), 1};
  l_->add(name, init_ones ? engine::ones(shape) : engine::randn(shape, DType::f32, gen));
}

void Ia3Linear::remove_adapter(const std::string& name) {
  if (has_adapter(name)) l_->erase(name);
}

std::vector<std::pair<std::string, Tensor>> Ia3Linear::adapter_tensors(const std::string& name) const {
  return {{"ia3_l", ia3_l(name)}};
}

std::string Ia3Linear::merge_refusal(const std::string& name) const {
  if (std::string why = TunerLayer::merge_refusal(name); !why.empty()) return why;
  for (double v : ia3_l(name).to_vector<double>())
    if (v == 0.0) return "ia3_l has a zero entry, so unmerging could not restore the weight";
  return "";
}

Tensor Ia3Linear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  Tensor scale;  // [in] or [out]: the product of the active vectors
  for (const std::string& name : adapters) {
    const Tensor l = ia3_l(name).flatten();
    scale = scale.defined() ? scale * l : l;
  }
  if (feedforward_) return base_layer().forward(x * scale);  // [..., in] ⊙ [in]
  return base_layer().forward(x) * scale;                     // [..., out] ⊙ [out]
}

// W (torch layout [out, in]) times ia3_l [out, 1] or [1, in]; Conv1D's [in, out] takes ia3_lᵀ.
void Ia3Linear::scale_base(const std::string& name, bool divide) {
  engine::NoGradGuard no_grad;
  nn::Linear& linear = *base_linear();
  const Tensor l = engine::to_dtype(ia3_l(name), DType::f32);
  const Tensor l_layout = linear.layout() == engine::WeightLayout::out_in ? l : l.t();
  Tensor& w = linear.weight();
  const Tensor w32 = engine::to_dtype(w, DType::f32);
  engine::copy_(w, divide ? w32 / l_layout : w32 * l_layout);
  const Tensor bias = linear.bias();
  if (feedforward_ || !bias.defined()) return;  // an input scale leaves the bias alone
  const Tensor b32 = engine::to_dtype(bias, DType::f32), lb = l.flatten();
  engine::copy_(bias, divide ? b32 / lb : b32 * lb);
}

void Ia3Linear::merge_into_base(const std::string& name) { scale_base(name, /*divide=*/false); }
void Ia3Linear::unmerge_from_base(const std::string& name) { scale_base(name, /*divide=*/true); }

}  // namespace peft::ia3
