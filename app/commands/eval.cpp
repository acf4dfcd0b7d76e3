// `peft eval`: score a checkpoint, plain or with adapters, on a task's data file.
//   peft eval --model base/ --adapter runs/lora/adapter --task seq-cls --data dev.csv [--json]
//   peft eval --model base/ --adapter runs/prefix/adapter --task data-to-text --data dev.csv --beams 4
// classification -> accuracy, F1 (binary for 2 classes, else macro), MCC (and eval_loss);
// data-to-text -> BLEU, NIST, ROUGE-L, CIDEr over all references (and eval_loss, perplexity);
// causal-lm / seq2seq -> eval_loss and perplexity. --predictions writes one prediction per
// example and line (the class, the tags, or the generated text). Several --adapter folders are
// loaded and made active together. --precision bf16|f16 stores the base's weights in that
// dtype and scores under autocast (app/train/precision.h); the adapters' tensors stay as saved,
// so the scores equal those of the evaluation inside `peft train --precision` of the same dtype.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "app/command.h"
#include "app/eval/classification_eval.h"
#include "app/eval/data_to_text_eval.h"
#include "app/report/table.h"
#include "app/tasks/cli_flags.h"
#include "app/tasks/model_setup.h"
#include "app/train/peft_target.h"
#include "app/train/precision.h"
#include "app/train/trainer.h"
#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"
#include "engine/nn/module_device.h"
#include "peft/core/generate.h"

namespace app {
namespace {
namespace fs = std::filesystem;
using tasks::Task;

struct EvalArgs {
  std::string model, data, predictions, precision = "f32";
  std::vector<std::string> adapters;
  tasks::TaskFlags task;
  int64_t max_new_tokens = 64, beams = 1, batch_size = 16;
  bool json = false;
};

struct Scored {
  std::map<std::string, double> metrics;
  std::vector<std::string> predictions;  // one line per example
};

models::generation::GenerationConfig generation(const EvalArgs& a, const peft::PeftModel& m,
                                                const models::Tokenizer& tok) {
  auto g = models::generation::default_generation_config(m.base().config(), a.model);
  g.max_new_tokens = a.max_new_tokens, g.num_beams = a.beams;
  if (g.eos_token_ids.empty() && tok.eos_id()) g.eos_token_ids = {*tok.eos_id()};
  return g;
}

std::string join_ints(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
}

// Continuations of every example's text (causal-lm / seq2seq predictions).
std::vector<std::string> generate_texts(peft::PeftModel& m, const models::Tokenizer& tok, const tasks::TaskData& data,
                                        const models::generation::GenerationConfig& g) {
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& ex : data.examples) prompts.push_back(tok.encode(ex.text).ids);
  const auto out = peft::generate(m, prompts, g);
  std::vector<std::string> texts;
  for (const auto& ids : out.tokens) texts.push_back(tok.decode(ids, /*skip_special_tokens=*/true));
  return texts;
}

Scored score(const EvalArgs& a, Task task, const std::shared_ptr<peft::PeftModel>& model, const models::Tokenizer& tok, const tasks::TaskData& data) {
  Scored s;
  peft::PeftModel& m = *model;
  const int64_t pad = tasks::pad_id(tok);
  const auto features = std::make_shared<const std::vector<train::Features>>(
      tasks::task_features(task, tok, data, a.task.features));
  train::PeftTarget target(model);
  target.eval();
  engine::NoGradGuard no_grad;
  const auto dataset = train::features_dataset(features, tasks::batch_kind(task), pad);
  s.metrics = train::loss_evaluator(dataset, a.batch_size)(target);
  if (tasks::is_classification(task)) {
    const auto c = eval::evaluate_classification([&](const models::Batch& b) { return m.forward(b); }, *features,
                                                 tasks::batch_kind(task), pad, size_t(a.batch_size));
    s.metrics.insert(c.metrics.begin(), c.metrics.end());
    for (const auto& p : c.predictions) s.predictions.push_back(join_ints(p));
    return s;
  }
  s.metrics["perplexity"] = std::exp(s.metrics.at("eval_loss"));
  if (task == Task::data_to_text) {
    auto d = eval::evaluate_data_to_text(m, tok, data.data_to_text, generation(a, m, tok), a.task.features.format,
                                         size_t(a.batch_size));
    s.metrics.insert(d.metrics.begin(), d.metrics.end());
    s.predictions = std::move(d.hypotheses);
  } else if (!a.predictions.empty()) {
    s.predictions = generate_texts(m, tok, data, generation(a, m, tok));
  }
  return s;
}

// The classifier size: --num-labels, else the first adapter's saved head, else the checkpoint's.
int64_t resolve_num_labels(const EvalArgs& a) {
  if (a.task.num_labels > 0 || a.adapters.empty()) return a.task.num_labels;
  return tasks::adapter_num_labels(a.adapters.front());
}

void run(EvalArgs& a) {
  const engine::Device device = tasks::resolve_device(a.task.device);
  const train::Precision precision = train::parse_precision(a.precision);
  const Task task = tasks::parse_task(a.task.task);
  a.task.num_labels = tasks::is_classification(task) ? resolve_num_labels(a) : 0;
  a.task.data.columns.num_labels = a.task.features.num_labels = a.task.num_labels;
  const tasks::TaskData data = tasks::read_task_data(task, a.data, a.task.data);
  const auto tokenizer = models::load_tokenizer(a.model);
  models::ModelPtr base = tasks::load_task_model({a.model, task, a.task.architecture, a.task.num_labels, /*seed=*/42});
  engine::nn::module_to(*base, device);  // adapters loaded below follow it
  auto model = std::make_shared<peft::PeftModel>(base);
  std::vector<std::string> names;
  for (size_t i = 0; i < a.adapters.size(); ++i) {
    names.push_back(i == 0 ? "default" : "adapter_" + std::to_string(i));
    model->load_adapter(a.adapters[i], names.back());
  }
  if (!names.empty()) model->set_adapter(names);
  train::cast_for_inference(*model, precision);  // f32: nothing
  Scored s;
  {
    train::AutocastScope autocast(precision, device);
    s = score(a, task, model, *tokenizer, data);
  }
  if (!a.predictions.empty()) {
    std::ofstream out(a.predictions);
    engine::check<engine::IOError>(out.good(), "[eval] cannot write ", a.predictions);
    for (const auto& line : s.predictions) out << line << "\n";
  }
  if (a.json) {
    std::cout << nlohmann::json(s.metrics).dump(2) << "\n";
    return;
  }
  report::TextTable table({"metric", "value"});
  for (const auto& [k, v] : s.metrics) table.add_row({k, report::fixed(v, 4)});
  std::printf("%s: %zu examples\n%s", a.data.c_str(), data.size(), table.render().c_str());
}

const Command kEval("eval", "Score a checkpoint (with adapters) on a task's data", [](CLI::App& sub) {
  auto a = std::make_shared<EvalArgs>();
  sub.add_option("--model", a->model, "HF checkpoint folder (model + tokenizer)")->required();
  sub.add_option("--adapter", a->adapters, "adapter folder, repeatable (several are active together)");
  tasks::add_task_flags(sub, a->task);
  sub.add_option("--data", a->data, "the data file")->required();
  sub.add_option("--batch-size", a->batch_size, "examples per batch")->capture_default_str();
  sub.add_option("--beams", a->beams, "generation: beam size (1 = greedy)")->capture_default_str();
  sub.add_option("--max-new-tokens", a->max_new_tokens, "generation: tokens per output")->capture_default_str();
  sub.add_option("--predictions", a->predictions, "write one prediction per example and line");
  sub.add_flag("--json", a->json, "print the metrics as JSON");
  train::add_precision_flag(sub, a->precision);
  sub.callback([a] { run(*a); });
});

}  // namespace
}  // namespace app
