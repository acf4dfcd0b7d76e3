// The training loop: micro-batches from a Dataset, gradient accumulation, clipping, AdamW
// with an HF learning-rate schedule, periodic evaluation with best-checkpoint keeping and
// early stopping, periodic checkpoints and exact resume, Ctrl-C, a progress line and
// <output>/metrics.jsonl. What trains is a TrainTarget (target.h).
//
// Mixed precision (options.precision, precision.h): bf16/f16 cast the target's frozen
// parameters once when the run starts, keep trainable tensors f32 (also after a method changes
// its trainable set), and run every forward — training loss and evaluation — under autocast;
// f16 scales the loss with a GradScaler (torch's defaults): gradients are unscaled before
// clipping, a step with an inf/NaN gradient is skipped (no clipping, no optimizer step; the
// method's after-step hook sees zero gradients, so AdaLoRA's scores stay finite and its
// schedule keeps counting), the scale halves, and the skip is noted on the progress display
// and counted in metrics.jsonl ("loss_scale", "skipped_steps") and the result. A skipped step
// still counts as a step (as in torch / HF). The checkpoint holds the scaler's state, so an f16
// run resumes with its scale; a checkpoint of another precision restarts it at loss_scale.
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
  int64_t skipped_steps = 0;           // f16: steps skipped for inf/NaN gradients
  double loss_scale = NAN;             // f16: the scale at the end
  int64_t cast_tensors = 0, cast_numel = 0;  // frozen parameters stored in half by this run
};

// Optimizer steps a run of these options makes over `dataset_size` examples.
int64_t total_steps(const TrainOptions& options, size_t dataset_size);

TrainResult train(TrainTarget& target, const Dataset& data, const TrainOptions& options,
                  const Evaluator& evaluate = {});

}  // namespace app::train
