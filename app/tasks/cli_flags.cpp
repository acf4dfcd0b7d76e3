// Shared task flags of `peft train` / `peft eval` (see cli_flags.h).
#include "app/tasks/cli_flags.h"

#include "engine/backend/cuda/cuda_device.h"
#include "engine/core/error.h"

namespace app::tasks {

void add_task_flags(CLI::App& app, TaskFlags& f) {
  app.add_option("--task", f.task, "seq-cls | token-cls | causal-lm | seq2seq | data-to-text")
      ->check(CLI::IsMember(task_names()))
      ->capture_default_str();
  app.add_option("--architecture", f.architecture, "model class (default: the task's, e.g. BertForSequenceClassification)");
  app.add_option("--num-labels", f.num_labels, "classes of a classification head (default: from the data)");
  app.add_option("--format", f.data.format, "csv | tsv | jsonl | e2e | webnlg | sst2 | text (default: by extension)")
      ->check(CLI::IsMember(format_names()));
  app.add_option("--text-column", f.data.columns.text, "column / key of the text (default: text)");
  app.add_option("--text-pair-column", f.data.columns.text_pair, "column of the second text of pair tasks");
  app.add_option("--label-column", f.data.columns.label, "column of the integer label (default: label)");
  app.add_option("--target-column", f.data.columns.target, "column of the target text (default for seq2seq: target)");
  app.add_option("--max-length", f.features.max_length, "input tokens per example at most")->capture_default_str();
  app.add_option("--max-target-length", f.features.max_target, "seq2seq target tokens at most")->capture_default_str();
  app.add_option("--separator", f.features.format.separator, "between source and target (causal LM)")
      ->capture_default_str();
  add_device_flag(app, f.device);
}

void add_device_flag(CLI::App& app, std::string& device) {
  app.add_option("--device", device, "where the model runs: cpu | cuda | cuda:N")->capture_default_str();
}

engine::Device resolve_device(const std::string& flag) {
  engine::Device device;
  try {
    device = engine::parse_device(flag);
  } catch (const engine::Error&) {
    throw;
  } catch (const std::exception&) {  // std::stoi's "cuda:x"
    engine::fail<engine::ValueError>("--device ", flag, ": expected cpu, cuda or cuda:N");
  }
  if (device.is_cpu()) return device;
  engine::check<engine::NoKernelError>(engine::cuda::built(), "--device ", flag, ": this build has no CUDA backend");
  const int count = engine::cuda::device_count();
  engine::check<engine::NoKernelError>(count > 0, "--device ", flag, ": this machine has no CUDA device");
  engine::check<engine::NoKernelError>(device.index >= 0 && device.index < count, "--device ", flag, ": this machine has ", count,
                                       " CUDA device(s)");
  return device;
}

}  // namespace app::tasks
