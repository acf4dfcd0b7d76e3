// `peft train`: fine-tune a checkpoint on a task with a PEFT method (or fully) and save the
// adapter (PEFT's folder format) or the model, with the loop's metrics and a results summary.
//   peft train --model base/ --task seq-cls --train train.csv --validation dev.csv --method lora \
//              --set r=4 --max-steps 200 --eval-every 50 --eval-metric accuracy --out runs/lora
// Writes <out>/adapter/ (full fine-tuning: <out>/model/, an HF checkpoint folder with the
// tokenizer), <out>/metrics.jsonl, <out>/checkpoint/ (running it again resumes) and
// <out>/results.json (method, parameter counts, peak memory, time, throughput, final metrics,
// the whole configuration). Data and configuration are checked before anything is written.
// --precision bf16|f16 (app/train/precision.h): frozen base weights are stored in that dtype,
// forwards run under autocast, f16 scales the loss. What is written does not change dtype:
// adapter files, trainable_params and checkpoints hold f32 trainable tensors (adapter tensors
// are never cast), and --method full trains every parameter, so none is cast and
// model.safetensors is f32. results.json records the precision, the cast and (f16) the final
// loss scale and skipped steps.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include "app/command.h"
#include "app/report/table.h"
#include "app/tasks/cli_flags.h"
#include "app/tasks/evaluators.h"
#include "app/tasks/model_setup.h"
#include "app/train/peft_target.h"
#include "engine/core/device.h"
#include "engine/core/error.h"
#include "engine/io/atomic_file.h"
#include "engine/nn/module_device.h"
#include "models/generation/generation_config.h"
#include "peft/methods/fish_mask/adapter.h"

namespace app {
namespace {
namespace fs = std::filesystem;
using tasks::Task;

struct TrainArgs {
  std::string model, train_file, validation_file, method = "lora", method_config, config, out, eval_metric;
  std::vector<std::string> sets;
  tasks::TaskFlags task;
  int64_t max_new_tokens = 64, beams = 1, fish_batches = 8;
  train::TrainOptions options;
};

// The training configuration: --config JSON under the flags, output in <out>, the metric.
void resolve_options(TrainArgs& a, const CLI::App& sub) {
  if (!a.config.empty()) train::apply_json(a.options, tasks::read_json_object(a.config), &sub);
  a.options.output_dir = a.out;
  if (!a.eval_metric.empty()) {
    const auto known = tasks::task_metrics(tasks::parse_task(a.task.task));
    engine::check<engine::ValueError>(std::find(known.begin(), known.end(), a.eval_metric) != known.end(),
                                      "[train] --eval-metric ", a.eval_metric, " is not a metric of task ",
                                      a.task.task);
    a.options.metric = a.eval_metric;
    a.options.greater_is_better = tasks::greater_is_better(a.eval_metric);
  }
  a.options.validate();
}

// VmHWM of /proc/self/status (the process' peak resident set), in bytes; 0 when unknown.
size_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return size_t(std::stoull(line.substr(6))) * 1024;
  return 0;
}

int64_t count_parameters(models::PretrainedModel& model) {
  int64_t n = 0;
  for (const auto& [name, t] : model.named_parameters()) n += t.numel();
  return n;
}

// PEFT's print_trainable_parameters line for a fully trained model.
std::string full_parameters_report(models::PretrainedModel& model) {
  const int64_t n = count_parameters(model);
  return "trainable params: " + report::with_thousands(n) + " || all params: " + report::with_thousands(n) +
         " || trainable%: 100.0000";
}

// FishMask trains nothing until its mask is chosen from a few batches of the task's data.
void select_fish_mask(peft::PeftModel& peft, const train::Dataset& data, const TrainArgs& a) {
  auto* fish = dynamic_cast<peft::fish_mask::FishMaskAdapter*>(&peft.adapter("default"));
  if (!fish) return;
  const std::vector<size_t> order = data.epoch_order(a.options.seed);
  size_t next = 0;
  const int64_t batches = std::max<int64_t>(1, std::min<int64_t>(a.fish_batches, int64_t(data.size) / a.options.batch_size));
  const int64_t chosen = fish->select(
      [&] {
        const size_t end = std::min(order.size(), next + size_t(a.options.batch_size));
        const std::vector<size_t> idx(order.begin() + long(next), order.begin() + long(end));
        next = end >= order.size() ? 0 : end;
        return peft.forward(data.collate(idx, a.options.seed)).loss;
      },
      batches);
  std::printf("fish_mask: %lld entries chosen from %lld batch(es)\n", (long long)chosen, (long long)batches);
}

struct Prepared {
  tasks::TaskData train_data;
  std::shared_ptr<tasks::TaskData> validation;
  std::shared_ptr<peft::PeftConfig> method;  // null: full fine-tuning
};

// Everything that can fail on the user's input, before a model is loaded or a file written.
Prepared prepare(TrainArgs& a, Task task) {
  Prepared p;
  a.task.data.columns.num_labels = a.task.features.num_labels = a.task.num_labels;
  p.train_data = tasks::read_task_data(task, a.train_file, a.task.data);
  if (!a.validation_file.empty())
    p.validation = std::make_shared<tasks::TaskData>(tasks::read_task_data(task, a.validation_file, a.task.data));
  if (tasks::is_classification(task) && a.task.num_labels == 0) {
    a.task.num_labels = tasks::labels_needed(task, p.train_data);
    if (p.validation) a.task.num_labels = std::max(a.task.num_labels, tasks::labels_needed(task, *p.validation));
  }
  a.task.features.num_labels = a.task.num_labels;
  if (a.method != "full") {
    nlohmann::json overrides = a.method_config.empty() ? nlohmann::json::object() : tasks::read_json_object(a.method_config);
    overrides.update(tasks::parse_overrides(a.sets));
    size_t n = p.train_data.examples.size();  // data-to-text trains on one example per reference
    for (const auto& e : p.train_data.data_to_text) n += e.references.size();
    p.method = tasks::method_config(a.method, overrides, task, train::total_steps(a.options, n));
  }
  return p;
}

nlohmann::json results_json(const TrainArgs& a, const train::TrainResult& t, int64_t trainable, int64_t all,
                            const peft::PeftConfig* method) {
  const double trained_s = t.seconds > 0 ? t.seconds : NAN;
  nlohmann::json final_metrics = t.last_eval;
  final_metrics["loss"] = t.last_loss;
  nlohmann::json config = {{"model", a.model},           {"task", a.task.task},
                           {"train", a.train_file},      {"validation", a.validation_file},
                           {"method", a.method},         {"num_labels", a.task.num_labels},
                           {"training", train::to_json(a.options)}};
  if (method) config["method_config"] = method->to_json();
  return {{"method", a.method},
          {"trainable_params", trainable},
          {"all_params", all},
          {"trainable_percent", all > 0 ? 100.0 * double(trainable) / double(all) : 0.0},
          {"peak_memory_bytes", engine::memory_stats(engine::parse_device(a.task.device)).peak},
          {"device", a.task.device},
          {"peak_rss_bytes", peak_rss_bytes()},
          {"seconds", t.seconds},
          {"steps", t.steps},
          {"resumed_from", t.resumed_from},
          {"steps_per_s", double(t.steps - t.resumed_from) / trained_s},
          {"tokens_per_s", t.tokens / trained_s},
          {"best_metric", t.best_metric},
          {"best_step", t.best_step},
          {"precision", a.options.precision},
          {"frozen_cast", {{"tensors", t.cast_tensors}, {"numel", t.cast_numel}}},
          {"skipped_steps", t.skipped_steps},
          {"loss_scale", std::isnan(t.loss_scale) ? nlohmann::json(nullptr) : nlohmann::json(t.loss_scale)},
          {"final_metrics", final_metrics},
          {"config", config}};
}

void print_table(const nlohmann::json& r) {
  report::TextTable table({"metric", "value"});
  for (const auto& [k, v] : r["final_metrics"].items()) table.add_row({k, report::fixed(v.get<double>(), 4)});
  table.add_row({"trainable params", report::with_thousands(r["trainable_params"].get<long long>())});
  table.add_row({"steps", std::to_string(r["steps"].get<long long>())});
  table.add_row({"seconds", report::fixed(r["seconds"].get<double>(), 1)});
  table.add_row({"peak memory MiB", report::fixed(double(r["peak_memory_bytes"].get<size_t>()) / (1 << 20), 1)});
  if (r["precision"] != "f32") table.add_row({"precision", r["precision"].get<std::string>()});
  if (r["precision"] == "f16") table.add_row({"skipped steps", std::to_string(r["skipped_steps"].get<long long>())});
  std::printf("%s", table.render().c_str());
}

void run(TrainArgs& a, const CLI::App& sub) {
  const engine::Device device = tasks::resolve_device(a.task.device);  // first: nothing read or written without it
  resolve_options(a, sub);
  const Task task = tasks::parse_task(a.task.task);
  Prepared p = prepare(a, task);
  const auto tokenizer = std::shared_ptr<const models::Tokenizer>(models::load_tokenizer(a.model));
  const int64_t pad = tasks::pad_id(*tokenizer);
  auto train_features = std::make_shared<const std::vector<train::Features>>(
      tasks::task_features(task, *tokenizer, p.train_data, a.task.features));
  const train::Dataset data = train::features_dataset(train_features, tasks::batch_kind(task), pad,
                                                      size_t(a.options.batch_size), /*bucket_batches=*/8);
  models::ModelPtr model = tasks::load_task_model({a.model, task, a.task.architecture, a.task.num_labels, a.options.seed});
  engine::nn::module_to(*model, device);  // adapters added below follow the model's device

  std::shared_ptr<peft::PeftModel> peft;
  std::unique_ptr<train::TrainTarget> target;
  if (p.method) {
    peft = std::make_shared<peft::PeftModel>(model);
    peft->add_adapter("default", p.method, a.options.seed);
    select_fish_mask(*peft, data, a);
    target = std::make_unique<train::PeftTarget>(peft);
    std::printf("%s\n", peft->trainable_parameters_report().c_str());
  } else {
    target = std::make_unique<train::FullFineTune>(model);
    std::printf("%s\n", full_parameters_report(*model).c_str());
  }

  train::Evaluator evaluate;
  if (p.validation) {
    tasks::EvalSetup e;
    e.task = task, e.data = p.validation, e.pad_id = pad, e.batch_size = size_t(a.options.batch_size);
    e.features = std::make_shared<const std::vector<train::Features>>(
        tasks::task_features(task, *tokenizer, *p.validation, a.task.features));
    e.forward = [model, peft](const models::Batch& b) {
      return peft ? peft->forward(b) : model->forward(models::batch_to(b, engine::nn::module_device(*model)));
    };
    e.generate = task == Task::data_to_text && a.options.metric != "eval_loss" && a.options.metric != "perplexity";
    engine::check<engine::ValueError>(!e.generate || peft, "[train] --eval-metric ", a.options.metric,
                                      " needs a PEFT method (full fine-tuning reports eval_loss)");
    e.peft = peft, e.tokenizer = tokenizer, e.format = a.task.features.format;
    e.generation = models::generation::default_generation_config(model->config(), a.model);
    e.generation.max_new_tokens = a.max_new_tokens, e.generation.num_beams = a.beams;
    if (e.generation.eos_token_ids.empty() && tokenizer->eos_id()) e.generation.eos_token_ids = {*tokenizer->eos_id()};
    evaluate = tasks::task_evaluator(e);
  } else {
    engine::check<engine::ValueError>(a.options.metric == "eval_loss" && a.options.eval_every == 0,
                                      "[train] --eval-every / --eval-metric need --validation");
  }

  engine::reset_peak_memory(device);
  const train::TrainResult t = train::train(*target, data, a.options, evaluate);
  if (t.interrupted) {
    std::printf("interrupted at step %lld: checkpoint saved; run the same command again to resume\n", (long long)t.steps);
    return;
  }
  const fs::path out(a.out);
  if (peft) {
    peft->save_pretrained(out / "adapter");
  } else {
    models::save_pretrained(*model, out / "model");
    tokenizer->save(out / "model");
  }
  const int64_t all = peft ? peft->num_all_parameters() : count_parameters(*model);
  const int64_t trainable = peft ? peft->num_trainable_parameters() : all;
  const nlohmann::json results = results_json(a, t, trainable, all, p.method.get());
  engine::io::atomic_write_text(out / "results.json", results.dump(2) + "\n");
  std::printf("%lld/%lld steps (resumed from %lld); saved %s\n", (long long)t.steps, (long long)t.total_steps,
              (long long)t.resumed_from, (out / (peft ? "adapter" : "model")).string().c_str());
  print_table(results);
}

const Command kTrain("train", "Fine-tune a checkpoint on a task with a PEFT method (or fully)", [](CLI::App& sub) {
  auto a = std::make_shared<TrainArgs>();
  sub.add_option("--model", a->model, "HF checkpoint folder (model + tokenizer)")->required();
  tasks::add_task_flags(sub, a->task);
  sub.add_option("--train", a->train_file, "training data file")->required();
  sub.add_option("--validation", a->validation_file, "validation data file (eval_loss and --eval-metric)");
  sub.add_option("--method", a->method, "full, or a method preset: lora, dora, qlora, ia3, prefix_tuning, ...")
      ->capture_default_str();
  sub.add_option("--method-config", a->method_config, "adapter_config-style JSON overriding the preset");
  sub.add_option("--set", a->sets, "method option key=value (value parsed as JSON), repeatable");
  sub.add_option("--config", a->config, "training options as JSON (flags win)");
  sub.add_option("--eval-metric", a->eval_metric, "metric for best/early stopping: eval_loss, accuracy, bleu, ...");
  sub.add_option("--max-new-tokens", a->max_new_tokens, "data-to-text evaluation: tokens per output")->capture_default_str();
  sub.add_option("--beams", a->beams, "data-to-text evaluation: beam size")->capture_default_str();
  sub.add_option("--fish-mask-batches", a->fish_batches, "FishMask: batches for the Fisher estimate")->capture_default_str();
  sub.add_option("--out", a->out, "output folder")->required();
  a->options.log_every = 10;
  train::add_train_flags(sub, a->options);
  sub.callback([a, &sub] { run(*a, sub); });
});

}  // namespace
}  // namespace app
