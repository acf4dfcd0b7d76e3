// GradScaler (see grad_scaler.h). The inf/NaN check sums g·0 over every gradient: 0 for finite
// entries, NaN as soon as one is inf or NaN, whatever the device or dtype; the per-gradient
// sums are added on the gradients' device and read back once.
#include "engine/optim/grad_scaler.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/ops/binary.h"
#include "engine/ops/convert.h"
#include "engine/ops/reduce.h"

namespace engine::optim {

GradScaler::GradScaler(const GradScalerOptions& options) : options_(options), scale_(options.init_scale) {
  check<ValueError>(options.init_scale > 0 && std::isfinite(options.init_scale), "[GradScaler] init_scale must be a "
                    "positive finite number, got ", options.init_scale);
  check<ValueError>(options.growth_factor > 1.0, "[GradScaler] growth_factor must be > 1, got ", options.growth_factor);
  check<ValueError>(options.backoff_factor > 0 && options.backoff_factor < 1.0,
                    "[GradScaler] backoff_factor must be in (0, 1), got ", options.backoff_factor);
  check<ValueError>(options.growth_interval > 0, "[GradScaler] growth_interval must be positive, got ",
                    options.growth_interval);
}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!options_.enabled) return loss;
  Tensor l = loss.dtype() == DType::bf16 || loss.dtype() == DType::f16 ? to_dtype(loss, DType::f32) : loss;
  return mul(l, scale_);
}

void GradScaler::unscale_(Optimizer& opt) {
  if (!options_.enabled) return;
  check<ValueError>(!unscaled_, "[GradScaler] unscale_() has already been called on this optimizer since the last "
                    "update()");
  NoGradGuard no_grad;
  const double inv = 1.0 / scale_;
  std::vector<Tensor> totals;  // Σ sum(g·0), one running scalar per device: NaN iff some entry was inf/NaN
  for (const ParamSlot& p : opt.params()) {
    Tensor g = p.param.grad();
    if (!g.defined()) continue;
    check<ValueError>(g.dtype() != DType::f16, "[GradScaler] attempting to unscale an f16 gradient (parameter '",
                      p.name, "'): keep trainable parameters in f32 (master copies)");
    Tensor part = to_dtype(sum(mul(g, 0.0)), DType::f32);
    auto it = std::find_if(totals.begin(), totals.end(), [&](const Tensor& t) { return t.device() == part.device(); });
    if (it == totals.end()) totals.push_back(part);
    else *it = add(*it, part);
    mul_(g, inv);
  }
  bool any_bad = false;
  for (const Tensor& t : totals) any_bad |= !std::isfinite(t.to(Device::cpu()).item<double>());
  found_inf_ = any_bad;
  unscaled_ = true;
}

bool GradScaler::step(Optimizer& opt) {
  if (!options_.enabled) {
    opt.step();
    return true;
  }
  if (!unscaled_) unscale_(opt);
  if (found_inf_) return false;
  opt.step();
  return true;
}

void GradScaler::update() {
  if (!options_.enabled) return;
  check<ValueError>(unscaled_, "[GradScaler] update(): no inf checks were recorded (call step() or unscale_() first)");
  if (found_inf_) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == options_.growth_interval) {
    // torch keeps the old scale when growing would overflow to inf.
    if (std::isfinite(scale_ * options_.growth_factor)) scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
  unscaled_ = found_inf_ = false;
}

void GradScaler::update(double new_scale) {
  if (!options_.enabled) return;
  check<ValueError>(new_scale > 0 && std::isfinite(new_scale), "[GradScaler] update(new_scale) needs a positive "
                    "finite scale, got ", new_scale);
  scale_ = new_scale;
  unscaled_ = found_inf_ = false;
}

void GradScaler::load_state(double scale, int64_t growth_tracker) {
  check<ValueError>(scale > 0 && std::isfinite(scale) && growth_tracker >= 0, "[GradScaler] bad state: scale ", scale,
                    ", growth_tracker ", growth_tracker);
  scale_ = scale;
  growth_tracker_ = growth_tracker;
  unscaled_ = found_inf_ = false;
}

}  // namespace engine::optim
