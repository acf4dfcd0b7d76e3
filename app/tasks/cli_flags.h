// Command-line flags `peft train` and `peft eval` share: the task, its data file's format and
// columns, and the model's architecture and head size.
#pragma once
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "app/tasks/task.h"

namespace app::tasks {

struct TaskFlags {
  std::string task = "seq-cls";
  std::string architecture;  // "" = the task's
  int64_t num_labels = 0;    // 0 = from the adapter / checkpoint / data
  DataSpec data;
  FeatureOptions features;
};

// --task, --architecture, --num-labels, --format, --text-column, --text-pair-column,
// --label-column, --target-column, --max-length, --max-target-length, --separator.
void add_task_flags(CLI::App& app, TaskFlags& flags);

}  // namespace app::tasks
