// TunerLayer bookkeeping: active/merged adapters, merge arithmetic, per-sample routing.
#include "peft/core/tuner_layer.h"

#include <algorithm>

#include "engine/engine.h"
#include "peft/core/sample_routing.h"

namespace peft {

using engine::ValueError;

TunerLayer::TunerLayer(engine::nn::ModulePtr base) {
  engine::check<ValueError>(dynamic_cast<engine::nn::UnaryModule*>(base.get()) != nullptr,
                            "[peft] cannot adapt a ", base->type_name(), ": not a one-input layer");
  base->requires_grad_(false);
  register_module("base_layer", std::move(base));
}

engine::nn::UnaryModule& TunerLayer::base_layer() const {
  return static_cast<engine::nn::UnaryModule&>(*child("base_layer"));
}

engine::nn::Linear* TunerLayer::base_linear() const { return dynamic_cast<engine::nn::Linear*>(&base_layer()); }

void TunerLayer::set_active(const std::string& adapter, bool on) {
  auto it = std::find(active_.begin(), active_.end(), adapter);
  if (on && it == active_.end()) active_.push_back(adapter);
  if (!on && it != active_.end()) active_.erase(it);
}

Tensor TunerLayer::run(const Tensor& x, const std::vector<std::string>& adapters) {
  std::vector<std::string> unmerged;
  for (const auto& a : adapters)
    if (!is_merged(a)) unmerged.push_back(a);
  if (unmerged.empty()) return base_layer().forward(x);
  return adapted_forward(x, unmerged);
}

Tensor TunerLayer::forward(const Tensor& x) {
  if (const auto* names = current_sample_adapters()) {
    engine::check<ValueError>(!any_merged(), "[adapter_names] cannot route samples while an adapter is merged; "
                                             "unmerge first");
    return route_by_sample(x, *names, [&](const Tensor& rows, const std::string& name) {
      if (name == kBaseOnly || !has_adapter(name)) return base_layer().forward(rows);
      return run(rows, {name});
    });
  }
  return run(x, active_);
}

// ---- merging

std::string TunerLayer::merge_refusal(const std::string& adapter) const {
  (void)adapter;
  return base_linear() ? "" : "its base is a " + base_layer().type_name() + ", not a Linear";
}

bool TunerLayer::is_merged(const std::string& adapter) const {
  return std::find(merged_.begin(), merged_.end(), adapter) != merged_.end();
}

void TunerLayer::merge(const std::string& adapter) {
  if (is_merged(adapter)) return;
  const std::string why = merge_refusal(adapter);
  engine::check<ValueError>(why.empty(), "[merge] adapter '", adapter, "' cannot be merged: ", why);
  merge_into_base(adapter);
  merged_.push_back(adapter);
}

void TunerLayer::unmerge(const std::string& adapter) {
  if (!is_merged(adapter)) return;
  unmerge_from_base(adapter);
  merged_.erase(std::find(merged_.begin(), merged_.end(), adapter));
}

Tensor TunerLayer::delta_weight(const std::string& adapter) const {
  engine::fail<ValueError>("[merge] ", type_name(), " has no weight delta for adapter '", adapter, "'");
}

void TunerLayer::merge_into_base(const std::string& adapter) { add_to_base_weight(delta_weight(adapter), +1.0); }
void TunerLayer::unmerge_from_base(const std::string& adapter) { add_to_base_weight(delta_weight(adapter), -1.0); }

void TunerLayer::add_to_base_weight(const Tensor& delta, double sign) const {
  engine::nn::Linear* linear = base_linear();
  engine::check<ValueError>(linear != nullptr, "[merge] base of ", type_name(), " is not a Linear");
  engine::NoGradGuard no_grad;
  Tensor& w = linear->weight();
  Tensor d = linear->layout() == engine::WeightLayout::out_in ? delta : delta.transpose(0, 1);  // to the base layout
  // In f32 whatever the storage dtype, rounded once on the way back.
  Tensor merged = engine::to_dtype(w, engine::DType::f32) + engine::to_dtype(d, engine::DType::f32) * sign;
  engine::copy_(w, merged);
}

}  // namespace peft
