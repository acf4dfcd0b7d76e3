// AdaLoRA's rank allocator (see rank_allocator.h).
#include "peft/methods/adalora/rank_allocator.h"

#include <algorithm>
#include <cmath>

#include "engine/engine.h"
#include "peft/methods/adalora/layer.h"

namespace peft::adalora {

using engine::Tensor;

RankAllocator::RankAllocator(const AdaLoraConfig& config, std::string adapter,
                             std::vector<std::pair<std::string, AdaLoraLinear*>> layers)
    : config_(config), adapter_(std::move(adapter)), layers_(std::move(layers)) {
  for (const auto& [path, layer] : layers_) init_bgt_ += layer->lora_A(adapter_).size(0);
  target_bgt_ = config_.target_r * static_cast<int64_t>(layers_.size());
}

std::pair<int64_t, bool> RankAllocator::budget_schedule(int64_t step) const {
  engine::check<engine::ConfigError>(config_.total_step.has_value(), "[ADALORA] config field 'total_step' must be set to "
                                                                     "allocate ranks");
  const int64_t tinit = config_.tinit, tfinal = config_.tfinal, total = *config_.total_step;
  if (step <= tinit) return {init_bgt_, false};
  if (step > total - tfinal) return {target_bgt_, true};
  const double mul = 1.0 - static_cast<double>(step - tinit) / static_cast<double>(total - tfinal - tinit);
  const auto budget = static_cast<int64_t>(static_cast<double>(init_bgt_ - target_bgt_) * mul * mul * mul +
                                           static_cast<double>(target_bgt_));  // Python's int(): towards zero
  return {budget, step % config_.deltaT == 0};
}

void RankAllocator::update_scores() {
  engine::NoGradGuard no_grad;
  const double b1 = config_.beta1, b2 = config_.beta2;
  for (const auto& [path, layer] : layers_)
    for (const auto& [suffix, p] : layer->adapter_tensors(adapter_)) {
      engine::check<engine::ValueError>(p.grad().defined(), "[ADALORA] ", path, ".", suffix,
                                        " has no gradient: call after_optimizer_step after the optimizer step and "
                                        "before zeroing the gradients");
      Tensor ipt = engine::abs(p * p.grad());  // sensitivity of each entry
      auto [it, fresh] = ema_.try_emplace(path + "." + suffix, Ema{engine::zeros_like(p), engine::zeros_like(p)});
      Ema& e = it->second;
      e.ipt = e.ipt * b1 + ipt * (1 - b1);
      e.unc = e.unc * b2 + engine::abs(ipt - e.ipt) * (1 - b2);
    }
}

Tensor RankAllocator::score(const std::string& key) const {
  auto it = ema_.find(key);
  engine::check<engine::ValueError>(it != ema_.end(), "[ADALORA] no importance scores yet for ", key,
                                    " (masking before any update)");
  return it->second.ipt * it->second.unc;
}

json RankAllocator::mask_to_budget(int64_t budget) {
  engine::NoGradGuard no_grad;
  std::vector<std::vector<float>> triplets;  // per layer, [r]
  std::vector<float> all;
  for (const auto& [path, layer] : layers_) {
    Tensor s = engine::reshape(score(path + ".lora_E"), {-1}) + engine::mean(score(path + ".lora_A"), {1}) +
               engine::mean(score(path + ".lora_B"), {0});  // [r]
    triplets.push_back(s.to_vector<float>());
    all.insert(all.end(), triplets.back().begin(), triplets.back().end());
  }
  // torch.kthvalue(k = init - budget): the k-th smallest; everything at or below it is masked.
  const int64_t k = init_bgt_ - budget;
  float threshold = -INFINITY;
  if (k > 0 && !all.empty()) {
    std::nth_element(all.begin(), all.begin() + (k - 1), all.end());
    threshold = all[static_cast<size_t>(k - 1)];
  }
  json pattern = json::object();
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<bool> keep;
    for (float v : triplets[i]) keep.push_back(!(v <= threshold));
    pattern[layers_[i].first + ".lora_E"] = keep;
  }
  mask_using_rank_pattern(pattern);
  return pattern;
}

void RankAllocator::mask_using_rank_pattern(const json& rank_pattern) {
  engine::NoGradGuard no_grad;
  for (const auto& [path, layer] : layers_) {
    const json& keep = rank_pattern.at(path + ".lora_E");
    Tensor& E = layer->lora_E(adapter_);  // [r,1]
    std::vector<float> mask;
    for (const auto& b : keep) mask.push_back(b.get<bool>() ? 1.f : 0.f);
    engine::check<engine::ShapeError>(static_cast<int64_t>(mask.size()) == E.size(0), "[ADALORA] rank_pattern for ",
                                      path, " has ", mask.size(), " entries, lora_E has ", E.size(0));
    engine::copy_(E, E * engine::from_vector(mask, {E.size(0), 1}).to(E.device()));
  }
}

std::optional<json> RankAllocator::update_and_allocate(int64_t step, bool force) {
  const auto [budget, mask] = budget_schedule(step);  // checks total_step
  if (step < *config_.total_step - config_.tfinal) update_scores();
  if (!mask && !force) return std::nullopt;
  return mask_to_budget(budget);
}

}  // namespace peft::adalora
