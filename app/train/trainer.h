// The training loop: micro-batches from a Dataset, gradient accumulation, clipping, AdamW
// with an HF learning-rate schedule, periodic evaluation with best-checkpoint keeping and
// early stopping, periodic checkpoints and exact resume, Ctrl-C, a progress line and
// <output>/metrics.jsonl. What trains is a TrainTarget (target.h).
//
// Reproducibility: the epoch order, every collate seed and the dropout streams derive from
// options.seed; the checkpoint holds the trainable state, the optimizer, the step (the
// schedule is a function of it), the data position and the dropout streams, so a run stopped
// after k steps and resumed ends with the same bits as one that never stopped.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "app/train/dataset.h"
#include "app/train/options.h"
#include "app/train/target.h"
#include "engine/core/error.h"

namespace app::train {

// A non-finite loss or gradient norm. The run stops without saving, so <output>/checkpoint
// still holds the last good state.
class DivergedError : public engine::ValueError {
  using engine::ValueError::ValueError;
};

// Metrics by name (must include options.metric); called in eval mode without autograd.
using Evaluator = std::function<std::map<std::string, double>(TrainTarget& target)>;

// The mean loss over a dataset, as {"eval_loss": ...} (batches in index order).
Evaluator loss_evaluator(Dataset eval, int64_t batch_size);

struct TrainResult {
  int64_t steps = 0, total_steps = 0, resumed_from = 0;
  double last_loss = NAN;
  double best_metric = NAN;
  int64_t best_step = -1;
  std::map<std::string, double> last_eval;
  bool interrupted = false, early_stopped = false;
  double seconds = 0, tokens = 0;
};

// Optimizer steps a run of these options makes over `dataset_size` examples.
int64_t total_steps(const TrainOptions& options, size_t dataset_size);

TrainResult train(TrainTarget& target, const Dataset& data, const TrainOptions& options,
                  const Evaluator& evaluate = {});

}  // namespace app::train
