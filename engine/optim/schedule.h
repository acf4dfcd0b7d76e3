// Learning-rate schedules with the semantics of transformers' get_*_schedule_with_warmup:
// the learning rate used by optimizer step `step` (0-based: the first update uses step 0,
// so with warmup it is 0, as in HF) is base_lr * factor(step).
#pragma once
#include <cstdint>
#include <string>

namespace engine::optim {

enum class ScheduleKind { constant, constant_with_warmup, linear, cosine };

struct Schedule {
  ScheduleKind kind = ScheduleKind::linear;
  double base_lr = 0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;   // linear / cosine decay to 0 at total_steps
  double num_cycles = 0.5;   // cosine: half a cosine wave by default

  double factor(int64_t step) const;
  double lr(int64_t step) const { return base_lr * factor(step); }
};

// A schedule by its HF name ("constant", "constant_with_warmup", "linear", "cosine");
// ConfigError listing the known names otherwise.
Schedule make_schedule(const std::string& name, double base_lr, int64_t warmup_steps, int64_t total_steps);

}  // namespace engine::optim
