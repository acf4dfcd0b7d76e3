// The model side of a task run: the checkpoint loaded with the architecture the task needs
// (a fresh classification head with num_labels when the checkpoint has none, reported as
// transformers does), a PEFT method's config from its preset name plus the user's overrides
// (`--method-config FILE`, `--set key=value`), and the facts an evaluation reads back from an
// adapter folder.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/tasks/task.h"
#include "models/model.h"
#include "peft/core/config.h"

namespace app::tasks {

struct ModelRequest {
  std::filesystem::path folder;  // an HF checkpoint folder
  Task task = Task::seq_cls;
  std::string architecture;      // "" = the task's (task_architecture)
  int64_t num_labels = 0;        // classification: > 0 sets the head's size
  uint64_t seed = 42;            // initialises a fresh head
};

// Strict loading: every key of the checkpoint must be used and every model key found, except
// the head a task adds (newly initialised, one warning line on stderr). Eval mode.
models::ModelPtr load_task_model(const ModelRequest& request);

// The classifier size saved in an adapter folder (modules_to_save of a SEQ_CLS / TOKEN_CLS
// adapter), or 0 when the folder holds no head.
int64_t adapter_num_labels(const std::filesystem::path& adapter_dir);

// `--set key=value` pairs as a JSON object: the value parsed as JSON when it is JSON
// ("8", "true", "[\"q\",\"v\"]"), else kept as a string. ValueError without "=".
nlohmann::json parse_overrides(const std::vector<std::string>& assignments);
// The JSON object of a --method-config file; engine::IOError / ConfigError naming it.
nlohmann::json read_json_object(const std::filesystem::path& path);

// make_config(method, overrides) with PEFT's task_type for the task when the user set none
// (token-cls: modules_to_save ["classifier"] too), and AdaLoRA's total_step set to the run's length when unset. The config's ConfigError
// names a bad field; an unknown method is a KeyError listing every preset (and "full").
std::shared_ptr<peft::PeftConfig> method_config(const std::string& method, nlohmann::json overrides, Task task,
                                                int64_t total_steps);

}  // namespace app::tasks
