// The schedule formulas, transcribed from transformers/optimization.py.
#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/core/error.h"

namespace engine::optim {

double Schedule::factor(int64_t step) const {
  if (kind == ScheduleKind::constant) return 1.0;
  if (step < warmup_steps) return double(step) / double(std::max<int64_t>(1, warmup_steps));
  if (kind == ScheduleKind::constant_with_warmup) return 1.0;
  const double after = double(step - warmup_steps);
  const double span = double(std::max<int64_t>(1, total_steps - warmup_steps));
  if (kind == ScheduleKind::linear) return std::max(0.0, double(total_steps - step) / span);
  const double progress = after / span;  // cosine
  return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * num_cycles * 2.0 * progress)));
}

Schedule make_schedule(const std::string& name, double base_lr, int64_t warmup_steps, int64_t total_steps) {
  check<ConfigError>(warmup_steps >= 0 && total_steps >= 0, "[schedule] warmup_steps (", warmup_steps,
                     ") and total_steps (", total_steps, ") must be >= 0");
  Schedule s{ScheduleKind::constant, base_lr, warmup_steps, total_steps, 0.5};
  if (name == "constant") s.kind = ScheduleKind::constant;
  else if (name == "constant_with_warmup") s.kind = ScheduleKind::constant_with_warmup;
  else if (name == "linear") s.kind = ScheduleKind::linear;
  else if (name == "cosine") s.kind = ScheduleKind::cosine;
  else
    fail<ConfigError>("[schedule] unknown lr scheduler '", name,
                      "'; known: constant, constant_with_warmup, linear, cosine");
  return s;
}

}  // namespace engine::optim
