// The autocast scope (see autocast.h): a thread-local state and the two casts the ops call.
#include "engine/ops/autocast.h"

#include "engine/core/counters.h"
#include "engine/ops/convert.h"

namespace engine {
namespace {

thread_local AutocastState state;
thread_local bool replaying = false;  // inside an AutocastReplayGuard: cast even in backward()

bool is_half(DType dt) { return dt == DType::bf16 || dt == DType::f16; }

}  // namespace

AutocastGuard::AutocastGuard(DType dtype, bool cpu) : previous_{state.on, state.cpu, state.dtype} {
  check<ValueError>(is_half(dtype), "[autocast] casts to bf16 or f16, got ", dtype_name(dtype));
  state = {true, cpu, dtype};
}

AutocastGuard::~AutocastGuard() { state = {previous_.on, previous_.cpu, previous_.dtype}; }

NoAutocastGuard::NoAutocastGuard() : on_(state.on), cpu_(state.cpu), dtype_(state.dtype) { state.on = false; }

NoAutocastGuard::~NoAutocastGuard() { state = {on_, cpu_, dtype_}; }

AutocastState autocast_state() { return state; }

AutocastReplayGuard::AutocastReplayGuard(const AutocastState& s) : previous_(state), previous_replay_(replaying) {
  state = s, replaying = true;
}

AutocastReplayGuard::~AutocastReplayGuard() { state = previous_, replaying = previous_replay_; }

std::optional<DType> autocast_dtype(Device device) {
  // Backward passes replay the dtypes the forward chose; vjps that call public ops must not recast.
  if (!state.on || (in_backward() && !replaying) || (device.is_cpu() && !state.cpu)) return std::nullopt;
  return state.dtype;
}

Tensor autocast_half(const Tensor& x) {
  if (!x.defined()) return x;
  auto dt = autocast_dtype(x.device());
  if (!dt || x.dtype() == *dt || !(x.dtype() == DType::f32 || is_half(x.dtype()))) return x;
  return to_dtype(x, *dt);
}

Tensor autocast_upcast(const Tensor& x) {
  if (!x.defined() || !is_half(x.dtype()) || !autocast_dtype(x.device())) return x;
  return to_dtype(x, DType::f32);
}

}  // namespace engine
