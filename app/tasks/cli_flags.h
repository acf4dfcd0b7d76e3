// Command-line flags `peft train` and `peft eval` share: the task, its data file's format and
// columns, and the model's architecture and head size.
#pragma once
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "app/tasks/task.h"
#include "engine/core/device.h"

namespace app::tasks {

struct TaskFlags {
  std::string task = "seq-cls";
  std::string architecture;  // "" = the task's
  int64_t num_labels = 0;    // 0 = from the adapter / checkpoint / data
  DataSpec data;
  FeatureOptions features;
  std::string device = "cpu";  // --device: cpu | cuda | cuda:N
};

// --task, --architecture, --num-labels, --format, --text-column, --text-pair-column,
// --label-column, --target-column, --max-length, --max-target-length, --separator, --device.
void add_task_flags(CLI::App& app, TaskFlags& flags);

// --device cpu|cuda|cuda:N on `app` (train, eval and generate share its wording).
void add_device_flag(CLI::App& app, std::string& device);
// The device of a --device value, checked before any work: ValueError for a malformed name,
// NoKernelError "--device cuda: this build has no CUDA backend" or "--device cuda: this
// machine has no CUDA device" when the GPU cannot be used (one line, exit code 1 from main).
engine::Device resolve_device(const std::string& flag);

}  // namespace app::tasks
