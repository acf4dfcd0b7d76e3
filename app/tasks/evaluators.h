// What an evaluation of a task measures, for the training loop (every --eval-every steps) and
// for `peft eval`: eval_loss always; accuracy / f1 / mcc for classifiers; the E2E metric set
// (bleu, nist, mteval_bleu, rouge_l, cider) for data-to-text when asked for, since generating
// every validation example costs far more than a loss.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "app/eval/classification_eval.h"
#include "app/tasks/task.h"
#include "app/train/trainer.h"
#include "models/generation/generation_config.h"
#include "peft/core/peft_model.h"

namespace app::tasks {

struct EvalSetup {
  Task task = Task::seq_cls;
  std::shared_ptr<const TaskData> data;                        // the validation examples
  std::shared_ptr<const std::vector<train::Features>> features;  // ... tokenised
  int64_t pad_id = 0;
  size_t batch_size = 16;
  eval::Forward forward;                  // classifiers: the model being trained
  // Data-to-text generation (only when `generate` is set): needs the PEFT model.
  bool generate = false;
  std::shared_ptr<peft::PeftModel> peft;
  std::shared_ptr<const models::Tokenizer> tokenizer;
  models::generation::GenerationConfig generation;
  train::CausalLmFormat format;
};

// Names of the metrics a task's evaluation can report (for --eval-metric's check).
std::vector<std::string> task_metrics(Task task);
// True for every metric but losses and perplexity.
bool greater_is_better(const std::string& metric);

train::Evaluator task_evaluator(const EvalSetup& setup);

}  // namespace app::tasks
