// Task evaluation inside the training loop (see evaluators.h).
#include "app/tasks/evaluators.h"

#include <cmath>

#include "app/eval/data_to_text_eval.h"
#include "engine/core/error.h"

namespace app::tasks {

std::vector<std::string> task_metrics(Task task) {
  if (is_classification(task)) return {"eval_loss", "accuracy", "f1", "mcc"};
  if (task == Task::data_to_text) return {"eval_loss", "perplexity", "bleu", "nist", "mteval_bleu", "rouge_l", "cider"};
  return {"eval_loss", "perplexity"};
}

bool greater_is_better(const std::string& metric) { return metric != "eval_loss" && metric != "perplexity"; }

train::Evaluator task_evaluator(const EvalSetup& s) {
  engine::check<engine::ValueError>(s.data && s.features, "[eval] no validation data");
  const train::Evaluator loss =
      train::loss_evaluator(train::features_dataset(s.features, batch_kind(s.task), s.pad_id), int64_t(s.batch_size));
  return [s, loss](train::TrainTarget& target) {
    std::map<std::string, double> out = loss(target);
    if (!is_classification(s.task)) out["perplexity"] = std::exp(out.at("eval_loss"));
    if (is_classification(s.task)) {
      const auto c = eval::evaluate_classification(s.forward, *s.features, batch_kind(s.task), s.pad_id, s.batch_size);
      out.insert(c.metrics.begin(), c.metrics.end());
    }
    if (s.generate) {
      engine::check<engine::ValueError>(s.peft && s.tokenizer, "[eval] generation metrics need a PEFT model");
      const auto d = eval::evaluate_data_to_text(*s.peft, *s.tokenizer, s.data->data_to_text, s.generation, s.format,
                                                 s.batch_size);
      out.insert(d.metrics.begin(), d.metrics.end());
    }
    return out;
  };
}

}  // namespace app::tasks
