// GradScaler: dynamic loss scaling for f16 training, with torch.amp.GradScaler's semantics.
// f16 gradients underflow below ~6e-8; scaling the loss by S (65536 at first) scales every
// gradient by S, and unscaling before the optimizer step restores them. When a step produces
// an inf or NaN gradient the step is skipped and S halves; after growth_interval clean steps
// in a row S doubles. bf16 has f32's range and needs no scaler (make one disabled, or none).
//
//   GradScaler scaler;
//   scaler.scale(loss).backward();
//   scaler.unscale_(opt);                 // optional: before clip_grad_norm_
//   scaler.step(opt);                     // unscales if needed; skips on inf/NaN
//   scaler.update();                      // the scale schedule
//
// The trainable parameters should be f32 master copies (a half gradient is refused, as torch
// refuses to unscale FP16 gradients). Works on CPU and GPU tensors (the inf check is a device
// reduction read back once per step).
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"
#include "engine/optim/optimizer.h"

namespace engine::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;  // disabled: scale() returns the loss, step() just steps, update() does nothing
};

class GradScaler {
 public:
  explicit GradScaler(const GradScalerOptions& options = {});

  // loss · scale (differentiable). A half loss is converted to f32 first, so that the scaled
  // value cannot overflow f16's 65504.
  Tensor scale(const Tensor& loss) const;

  // Divides the optimizer's gradients by the scale in place and records whether any was
  // inf/NaN. At most once per step (ValueError on a second call before update()).
  void unscale_(Optimizer& opt);

  // unscale_ (if not done yet), then opt.step() unless an inf/NaN gradient was found.
  // Returns whether the optimizer stepped.
  bool step(Optimizer& opt);

  // After step(): on inf/NaN scale *= backoff_factor and the clean-step count resets; else the
  // count grows and at growth_interval the scale is multiplied by growth_factor. ValueError if
  // no step() / unscale_() ran since the last update (as torch's "no inf checks were recorded").
  void update();
  // Sets the scale directly (torch's update(new_scale)); resets the per-step state.
  void update(double new_scale);

  double get_scale() const { return options_.enabled ? scale_ : 1.0; }
  int64_t growth_tracker() const { return growth_tracker_; }
  bool found_inf() const { return found_inf_; }  // of the current (not yet updated) step
  bool is_enabled() const { return options_.enabled; }
  const GradScalerOptions& options() const { return options_; }

  // Checkpointing: the scale and the clean-step count (torch's state_dict keys).
  void load_state(double scale, int64_t growth_tracker);

 private:
  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0;
  bool unscaled_ = false, found_inf_ = false;
};

}  // namespace engine::optim
