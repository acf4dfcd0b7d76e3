// Evaluation of classifiers (sequence or token classification) on tokenised examples: the
// model's argmax prediction per example (per tagged token), then accuracy, F1 (binary for
// two classes, macro otherwise) and Matthews correlation (app/metrics/classification.h).
// The model is reached through a forward function, so the same code scores a PEFT model,
// a fully fine-tuned one, and a model inside the training loop.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "app/train/batching.h"
#include "models/model.h"

namespace app::eval {

using Forward = std::function<models::ModelOutput(const models::Batch&)>;

struct ClassificationEval {
  std::vector<std::vector<int64_t>> predictions;  // per example: its class, or its tokens' tags
  std::map<std::string, double> metrics;           // accuracy, f1, mcc
};

// accuracy, f1 (binary when num_labels == 2, else macro) and mcc of flat label lists.
std::map<std::string, double> classification_metrics(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                                                     int64_t num_labels);

// Runs `forward` without autograd over the features in order (batches of batch_size, padded
// with pad_id). kind: TaskKind::classification (one label per example, Features::label) or
// token labels (Features::labels, -100 skipped).
ClassificationEval evaluate_classification(const Forward& forward, const std::vector<train::Features>& features,
                                           train::TaskKind kind, int64_t pad_id, size_t batch_size = 32);

}  // namespace app::eval
