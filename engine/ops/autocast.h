// Autocast: mixed precision by scope, as torch.autocast. Inside `AutocastGuard guard(DType::bf16)`
// the ops that are numerically safe in half precision — linear and matmul, whose GEMMs
// accumulate in f32 — cast their f32 inputs to the autocast dtype through the differentiable
// to_dtype, so the GEMMs run on tensor cores while f32 master parameters still receive f32
// gradients (to_dtype's backward converts the gradient back). Ops that are not safe in half
// — softmax / log_softmax, layer_norm / rms_norm, losses — call autocast_upcast, which gives
// them f32 inputs (so their results, and the loss a GradScaler scales, are f32). f64 tensors
// are never cast (as torch). Everything else runs in whatever dtype it is given.
//
// Devices: autocast applies to GPU tensors. On the CPU it is a no-op unless the guard is made
// with cpu = true: the CPU GEMMs compute in f32 whatever the storage type, so casting there
// buys no speed; it only reproduces the GPU's roundings (tests, debugging).
//
// The state is thread-local (like NoGradGuard); guards nest and restore the previous state.
// It is ignored while backward() runs: vjps keep the dtypes their forward chose.
#pragma once
#include <optional>

#include "engine/core/tensor.h"

namespace engine {

class AutocastGuard {
 public:
  // dtype: bf16 or f16 (ValueError otherwise); cpu: also cast CPU tensors.
  explicit AutocastGuard(DType dtype = DType::bf16, bool cpu = false);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  friend class NoAutocastGuard;
  struct State {
    bool on = false, cpu = false;
    DType dtype = DType::bf16;
  };
  State previous_;
};

// Turns autocast off for a scope (code that must see its own dtypes inside an autocast region).
class NoAutocastGuard {
 public:
  NoAutocastGuard();
  ~NoAutocastGuard();
  NoAutocastGuard(const NoAutocastGuard&) = delete;
  NoAutocastGuard& operator=(const NoAutocastGuard&) = delete;

 private:
  bool on_, cpu_;
  DType dtype_;
};

// The autocast state of this thread, to be re-entered later: gradient checkpointing captures
// it with its forward and replays it when backward() recomputes that forward.
struct AutocastState {
  bool on = false, cpu = false;
  DType dtype = DType::bf16;
};
AutocastState autocast_state();

// Sets `state` for the scope, also while backward() runs (a recomputed forward must cast as
// the original one did; vjps outside this scope still keep their forward's dtypes).
class AutocastReplayGuard {
 public:
  explicit AutocastReplayGuard(const AutocastState& state);
  ~AutocastReplayGuard();
  AutocastReplayGuard(const AutocastReplayGuard&) = delete;
  AutocastReplayGuard& operator=(const AutocastReplayGuard&) = delete;

 private:
  AutocastState previous_;
  bool previous_replay_;
};

// The dtype half-safe ops cast to for tensors on `device`, or nullopt when autocast is off there.
std::optional<DType> autocast_dtype(Device device);

// For a half-safe op (linear, matmul): x cast to the autocast dtype when autocast is on for
// x's device and x is f32, bf16 or f16 of another dtype; else x itself.
Tensor autocast_half(const Tensor& x);

// For an op that must run in f32 (softmax, norms, losses): x cast to f32 when autocast is on
// for x's device and x is bf16/f16; else x itself.
Tensor autocast_upcast(const Tensor& x);

}  // namespace engine
