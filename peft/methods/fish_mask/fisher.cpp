// Empirical Fisher information (see fisher.h).
#include "peft/methods/fish_mask/fisher.h"

#include "engine/engine.h"

namespace peft::fish_mask {

selective::NamedParams compute_fisher(const selective::NamedParams& params,
                                      const std::function<engine::Tensor()>& loss_of_next_batch, int64_t num_batches) {
  engine::check<engine::ValueError>(num_batches > 0, "[compute_fisher] num_batches must be positive, got ", num_batches);
  std::vector<bool> was_trainable;
  std::vector<engine::Tensor> ps;  // handles on the same parameters (their flags and grads change)
  selective::NamedParams fisher;
  for (const auto& [name, param] : params) {
    engine::Tensor p = param;
    engine::check<engine::ValueError>(engine::grad_mask(p) == nullptr, "[compute_fisher] ", name,
                                      " already has a gradient mask");
    was_trainable.push_back(p.requires_grad());
    p.requires_grad_(true);
    p.zero_grad();
    fisher.emplace_back(name, engine::zeros(p.shape(), engine::DType::f32, p.device()));
    ps.push_back(p);
  }
  auto restore = [&] {
    for (size_t i = 0; i < params.size(); ++i) {
      ps[i].zero_grad();
      ps[i].requires_grad_(was_trainable[i]);
    }
  };
  try {
    for (int64_t b = 0; b < num_batches; ++b) {
      engine::Tensor loss = loss_of_next_batch();
      loss.backward();
      engine::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        engine::Tensor g = ps[i].grad();
        if (!g.defined()) continue;  // the loss does not reach this parameter
        engine::Tensor g32 = engine::to_dtype(g, engine::DType::f32);
        engine::add_(fisher[i].second, g32 * g32);
        ps[i].zero_grad();
      }
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
  for (auto& [name, f] : fisher) engine::mul_(f, 1.0 / double(num_batches));
  return fisher;
}

}  // namespace peft::fish_mask
