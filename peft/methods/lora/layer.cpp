// LoRA on Linear and Embedding layers, DoRA on Linear (see layer.h and README.md).
#include "peft/methods/lora/layer.h"

#include <atomic>
#include <cmath>
#include <typeinfo>

#include "engine/engine.h"
#include "engine/ops/lowrank_linear.h"

namespace peft::lora {

using engine::Tensor;
namespace nn = engine::nn;

// ---------------------------------------------------------------- Linear

namespace {
std::atomic<bool> g_fused_forward{true};

nn::Linear& as_linear(const nn::ModulePtr& m) {
  auto* linear = dynamic_cast<nn::Linear*>(m.get());
  engine::check<engine::ValueError>(linear != nullptr, "[LoRA] cannot wrap a ", m->type_name(), " as a Linear");
  return *linear;
}
}  // namespace

void set_fused_forward(bool on) { g_fused_forward = on; }
bool fused_forward() { return g_fused_forward; }

LoraLinear::LoraLinear(nn::ModulePtr base)
    : LoraLinear(base, as_linear(base).in_features(), as_linear(base).out_features()) {}

LoraLinear::LoraLinear(nn::ModulePtr base, int64_t in_features, int64_t out_features)
    : TunerLayer(std::move(base)), in_(in_features), out_(out_features) {
  A_ = register_module("lora_A", std::make_shared<ModuleDict>());
  B_ = register_module("lora_B", std::make_shared<ModuleDict>());
  dropout_ = register_module("lora_dropout", std::make_shared<ModuleDict>());
  magnitude_ = register_module("lora_magnitude_vector", std::make_shared<ParameterDict>());
}

void LoraLinear::add_adapter(const std::string& name, const LoraSettings& s, engine::Generator& gen) {
  engine::check<engine::ValueError>(!has_adapter(name), "[LoRA] layer already has adapter '", name, "'");
  auto a = std::make_shared<nn::Linear>(in_, s.r, /*bias=*/false);
  a->reset_parameters(gen);  // Kaiming-uniform(a=√5): U(±1/√in)
  auto b = std::make_shared<nn::Linear>(s.r, out_, s.lora_bias);
  a->requires_grad_(true);
  b->requires_grad_(true);
  A_->add(name, a);
  B_->add(name, b);
  const uint64_t dropout_seed = gen.seed() + 7919 * (gen.advance(1) + 1);  // its own stream per layer
  dropout_->add(name, std::make_shared<nn::Dropout>(s.dropout, dropout_seed));
  settings_[name] = s;
  if (s.use_dora) {
    engine::NoGradGuard no_grad;
    magnitude_->add(name, dora_weight_norm(name).contiguous());  // m starts at ||W|| (B = 0)
  }
}

void LoraLinear::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  A_->erase(name);
  B_->erase(name);
  dropout_->erase(name);
  if (magnitude_->contains(name)) magnitude_->erase(name);
  settings_.erase(name);
}

Tensor& LoraLinear::lora_A(const std::string& name) const { return A_->at<nn::Linear>(name)->weight(); }
Tensor& LoraLinear::lora_B(const std::string& name) const { return B_->at<nn::Linear>(name)->weight(); }

std::vector<std::pair<std::string, Tensor>> LoraLinear::adapter_tensors(const std::string& name) const {
  std::vector<std::pair<std::string, Tensor>> out = {{"lora_A.weight", lora_A(name)}, {"lora_B.weight", lora_B(name)}};
  if (settings_.at(name).lora_bias) out.emplace_back("lora_B.bias", B_->at<nn::Linear>(name)->bias());
  if (settings_.at(name).use_dora) out.emplace_back("lora_magnitude_vector", magnitude_->at(name));
  return out;
}

Tensor LoraLinear::base_weight_out_in() const {
  nn::Linear* linear = base_linear();
  return linear->layout() == engine::WeightLayout::out_in ? linear->weight() : linear->weight().transpose(0, 1);
}

void LoraLinear::set_base_weight_out_in(const Tensor& w) {
  engine::NoGradGuard no_grad;
  nn::Linear* linear = base_linear();
  Tensor& dst = linear->weight();
  engine::copy_(dst, linear->layout() == engine::WeightLayout::out_in ? w : w.transpose(0, 1));  // converts dtype
}

Tensor LoraLinear::delta_weight(const std::string& name) const {
  const LoraSettings& s = settings_.at(name);
  return engine::matmul(lora_B(name), lora_A(name)) * s.scaling;  // [out,r] @ [r,in] -> [out,in]
}

// The fused op must compute exactly what the composite does, so it is taken only where the
// composite is base.forward = linear(x, W, b, layout) (an nn::Linear itself: not QLoRA's
// quantized base, a ModulesToSave or another tuner wrapped inside, nor a subclass), A and B
// are bias-free torch-layout Linears, and there is no DoRA term. Merged adapters never get
// here (TunerLayer::run filters them) and per-sample routing calls us once per group.
bool LoraLinear::fusable(const std::string& name) const {
  const LoraSettings& s = settings_.at(name);
  if (!fused_forward() || s.use_dora || s.lora_bias || typeid(base_layer()) != typeid(nn::Linear)) return false;
  const std::shared_ptr<nn::Linear> a = A_->at<nn::Linear>(name), b = B_->at<nn::Linear>(name);
  for (const nn::Linear* m : {a.get(), b.get()})
    if (!m || typeid(*m) != typeid(nn::Linear) || m->bias().defined() || m->layout() != engine::WeightLayout::out_in)
      return false;
  return true;
}

Tensor LoraLinear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  if (adapters.size() == 1 && fusable(adapters.front())) {
    const std::string& name = adapters.front();
    auto& base = static_cast<nn::Linear&>(base_layer());
    // Dropout returns x itself when inactive (eval, p = 0): lowrank_linear then shares x's
    // gradient buffer between the two dx GEMMs.
    const Tensor xa = dropout_->at<nn::Dropout>(name)->forward(x);
    return engine::lowrank_linear(x, base.weight(), base.bias(), base.layout(), xa, lora_A(name), lora_B(name),
                                  settings_.at(name).scaling);
  }
  Tensor y = base_layer().forward(x);  // [..., out]
  for (const std::string& name : adapters) {
    const LoraSettings& s = settings_.at(name);
    Tensor h = dropout_->at<nn::Dropout>(name)->forward(x);
    Tensor lora_out = B_->at<nn::Linear>(name)->forward(A_->at<nn::Linear>(name)->forward(h));  // [...,r] -> [...,out]
    y = s.use_dora ? y + dora_term(h, lora_out, name) : y + lora_out * s.scaling;
  }
  return y;
}

// ---- DoRA: W' = m ⊙ (W + sBA) / ||W + sBA||, the norm per output row and detached (PEFT
// treats it as a constant so the magnitude and the direction train separately). In output
// terms: y += (m/‖·‖ − 1)·(x Wᵀ) + (m/‖·‖)·s·B A x.

Tensor LoraLinear::dora_weight_norm(const std::string& name) const {
  engine::NoGradGuard no_grad;
  Tensor w = engine::to_dtype(base_weight_out_in(), engine::DType::f32) + delta_weight(name);  // [out,in]
  return engine::sqrt(engine::sum(w * w, {1}));                                               // [out]
}

void LoraLinear::reset_dora_magnitude(const std::string& name) {
  engine::NoGradGuard no_grad;
  engine::copy_(magnitude_->at(name), dora_weight_norm(name));
}

Tensor LoraLinear::dora_term(const Tensor& x, const Tensor& lora_out, const std::string& name) const {
  const LoraSettings& s = settings_.at(name);
  Tensor scale = magnitude_->at(name) / dora_weight_norm(name);              // [out]
  Tensor base_no_bias = engine::linear(x, base_weight_out_in().detach());    // [..., out], frozen W
  return (scale - 1.0) * base_no_bias + scale * lora_out * s.scaling;
}

void LoraLinear::merge_into_base(const std::string& name) {
  if (!settings_.at(name).use_dora) return TunerLayer::merge_into_base(name);
  engine::NoGradGuard no_grad;
  Tensor norm = dora_weight_norm(name);                                         // [out]
  Tensor factor = engine::unsqueeze(magnitude_->at(name) / norm, 1);            // [out,1]
  Tensor w = engine::to_dtype(base_weight_out_in(), engine::DType::f32);
  Tensor merged = factor * (w + delta_weight(name));                            // [out,in]
  add_to_base_weight(merged - w, +1.0);
  merged_dora_norms_[name] = norm;
}

void LoraLinear::unmerge_from_base(const std::string& name) {
  if (!settings_.at(name).use_dora) return TunerLayer::unmerge_from_base(name);
  engine::NoGradGuard no_grad;
  Tensor factor = engine::unsqueeze(magnitude_->at(name) / merged_dora_norms_.at(name), 1);  // [out,1]
  Tensor w = engine::to_dtype(base_weight_out_in(), engine::DType::f32);
  Tensor original = w / factor - delta_weight(name);
  add_to_base_weight(original - w, +1.0);
  merged_dora_norms_.erase(name);
}

// ---------------------------------------------------------------- Embedding

LoraEmbedding::LoraEmbedding(nn::ModulePtr base) : TunerLayer(std::move(base)) {
  engine::check<engine::ValueError>(dynamic_cast<nn::Embedding*>(&base_layer()) != nullptr, "[LoRA] cannot wrap a ",
                                    base_layer().type_name(), " as an embedding");
  A_ = register_module("lora_embedding_A", std::make_shared<ParameterDict>());
  B_ = register_module("lora_embedding_B", std::make_shared<ParameterDict>());
}

nn::Embedding& LoraEmbedding::base_embedding() const { return static_cast<nn::Embedding&>(base_layer()); }

void LoraEmbedding::add_adapter(const std::string& name, const LoraSettings& s, engine::Generator& gen) {
  engine::check<engine::ValueError>(!has_adapter(name), "[LoRA] layer already has adapter '", name, "'");
  engine::check<engine::ValueError>(!s.use_dora, "[LoRA] DoRA on an Embedding is not supported");
  const int64_t num = base_embedding().num_embeddings(), dim = base_embedding().embedding_dim();
  A_->add(name, engine::zeros({s.r, num}));
  B_->add(name, engine::randn({dim, s.r}, engine::DType::f32, gen));
  settings_[name] = s;
}

void LoraEmbedding::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  A_->erase(name);
  B_->erase(name);
  settings_.erase(name);
}

std::vector<std::pair<std::string, Tensor>> LoraEmbedding::adapter_tensors(const std::string& name) const {
  return {{"lora_embedding_A", A_->at(name)}, {"lora_embedding_B", B_->at(name)}};
}

Tensor LoraEmbedding::delta_weight(const std::string& name) const {
  Tensor ba = engine::matmul(B_->at(name), A_->at(name));  // [dim,r] @ [r,num] -> [dim,num]
  return ba.transpose(0, 1) * settings_.at(name).scaling;   // [num,dim], the embedding's layout
}

Tensor LoraEmbedding::adapted_forward(const Tensor& ids, const std::vector<std::string>& adapters) {
  Tensor y = base_layer().forward(ids);  // [..., dim]
  for (const std::string& name : adapters) {
    // PEFT: F.embedding(ids, Aᵀ) @ Bᵀ · s (no dropout on embeddings).
    Tensor after_a = engine::embedding(ids, A_->at(name).transpose(0, 1));                   // [..., r]
    y = y + engine::matmul(after_a, B_->at(name).transpose(0, 1)) * settings_.at(name).scaling;  // [..., dim]
  }
  return y;
}

void LoraEmbedding::merge_into_base(const std::string& name) {
  engine::NoGradGuard no_grad;
  Tensor& w = base_embedding().weight();
  engine::copy_(w, engine::to_dtype(w, engine::DType::f32) + delta_weight(name));
}

void LoraEmbedding::unmerge_from_base(const std::string& name) {
  engine::NoGradGuard no_grad;
  Tensor& w = base_embedding().weight();
  engine::copy_(w, engine::to_dtype(w, engine::DType::f32) - delta_weight(name));
}

}  // namespace peft::lora
