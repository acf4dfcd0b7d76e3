// The training loop (see trainer.h). One Run object per call holds the loop's state; each
// member function is one phase of a step.
#include "app/train/trainer.h"

#include <chrono>
#include <cmath>
#include <memory>

#include "app/train/checkpoint.h"
#include "app/train/interrupt.h"
#include "app/train/metrics_log.h"
#include "app/train/progress.h"
#include "engine/autograd/grad_mode.h"
#include "engine/io/atomic_file.h"
#include "engine/ops/binary.h"
#include "engine/ops/reduce.h"
#include "engine/optim/adamw.h"
#include "engine/optim/grad_utils.h"
#include "engine/optim/schedule.h"

namespace app::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kCollateStream = 0xC011A7Eull;

double batch_tokens(const models::Batch& b) {
  if (b.attention_mask.defined()) return engine::sum(b.attention_mask).item<double>();
  return double(b.input_ids.numel());
}

// Restores the SIGINT action however the loop exits.
struct InterruptScope {
  InterruptScope() { install_interrupt_handler(); }
  ~InterruptScope() { remove_interrupt_handler(); }
};

class Run {
 public:
  Run(TrainTarget& target, const Dataset& data, const TrainOptions& o, const Evaluator& evaluate)
      : target_(target), data_(data), o_(o), evaluate_(evaluate), out_(o.output_dir) {
    make_optimizer();
    r_.total_steps = total_steps(o, data.size);
    const int64_t warmup = o.warmup_steps > 0 ? o.warmup_steps : int64_t(std::ceil(o.warmup_ratio * double(r_.total_steps)));
    schedule_ = engine::optim::make_schedule(o.schedule, o.lr, warmup, r_.total_steps);
  }

  TrainResult run() {
    fs::create_directories(out_);
    start_or_resume();
    InterruptScope interrupts;
    Progress progress(r_.total_steps, s_.step, o_.log_every, o_.progress);
    progress_ = &progress;
    target_.train();
    const auto start = Clock::now();
    const double tokens0 = s_.tokens;
    while (s_.step < r_.total_steps) {
      if (interrupt_requested()) {
        r_.interrupted = true;
        progress.note("interrupted at step " + std::to_string(s_.step) + ": saving a checkpoint");
        break;
      }
      const double lr = schedule_.lr(s_.step);
      const double grad_norm = step(lr);
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      const double tps = secs > 0 ? (s_.tokens - tokens0) / secs : 0;
      progress.update(s_.step, r_.last_loss, lr, tps);
      if (o_.log_every > 0 && s_.step % o_.log_every == 0)
        log_->write({{"step", s_.step}, {"epoch", s_.epoch}, {"loss", r_.last_loss}, {"lr", lr},
                     {"grad_norm", grad_norm}, {"tokens", s_.tokens}, {"tokens_per_s", tps}});
      if (evaluate_ && o_.eval_every > 0 && s_.step % o_.eval_every == 0 && run_eval()) break;
      if (o_.save_every > 0 && s_.step % o_.save_every == 0 && s_.step < r_.total_steps) save();
    }
    const bool trained = s_.step > r_.resumed_from;  // false: the checkpoint was already complete
    if (evaluate_ && trained && !r_.interrupted && !r_.early_stopped && r_.last_eval_step != s_.step) run_eval();
    save();
    progress.finish();
    r_.steps = s_.step;
    r_.best_metric = s_.best_metric, r_.best_step = s_.best_step;
    r_.tokens = s_.tokens;
    r_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r_.result();
  }

 private:
  void make_optimizer() {
    engine::optim::AdamWOptions a;
    a.lr = o_.lr, a.beta1 = o_.adam_beta1, a.beta2 = o_.adam_beta2, a.eps = o_.adam_eps, a.weight_decay = o_.weight_decay;
    opt_ = std::make_unique<engine::optim::AdamW>(target_.trainable_parameters(), a,
                                                  engine::optim::hf_decay_filter(target_.module()));
  }

  struct Result : TrainResult {
    int64_t last_eval_step = -1;
    TrainResult result() const { return *this; }
  };

  void start_or_resume() {
    bool resumed = o_.resume && load_checkpoint(out_, target_, *opt_, s_);
    if (!resumed) {
      s_ = TrainerState{};
      seed_dropout(target_.module(), o_.seed);
    }
    r_.resumed_from = s_.step;
    log_ = std::make_unique<MetricsLog>(out_ / "metrics.jsonl", resumed ? s_.step : -1);
  }

  // The next micro-batch's example indices; moves the data position on.
  std::vector<size_t> next_indices() {
    if (size_t(s_.index) >= data_.size) ++s_.epoch, s_.index = 0;
    if (order_epoch_ != s_.epoch) order_ = data_.epoch_order(mix_seed(o_.seed, uint64_t(s_.epoch))), order_epoch_ = s_.epoch;
    const size_t begin = size_t(s_.index), end = std::min(data_.size, begin + size_t(o_.batch_size));
    s_.index = int64_t(end);
    return {order_.begin() + long(begin), order_.begin() + long(end)};
  }

  void check_finite(double value, const char* what) {
    if (std::isfinite(value)) return;
    opt_->zero_grad();
    const fs::path kept = readable_folder(out_ / "checkpoint");
    engine::fail<DivergedError>("[train] ", what, " is ", value, " at step ", s_.step + 1, " (epoch ", s_.epoch,
                                "); stopped without saving: ",
                                kept.empty() ? std::string("no checkpoint was written yet")
                                             : "the last good checkpoint is kept in " + kept.string());
  }

  // One optimizer step over grad_accum micro-batches; returns the gradient norm.
  double step(double lr) {
    double loss_sum = 0;
    for (int64_t a = 0; a < o_.grad_accum; ++a) {
      const std::vector<size_t> idx = next_indices();
      const models::Batch batch = data_.collate(idx, mix_seed(o_.seed ^ kCollateStream, uint64_t(s_.micro_batches++)));
      engine::Tensor loss = target_.loss(batch);
      const double l = loss.item<double>();
      check_finite(l, "the loss");
      (o_.grad_accum > 1 ? loss * (1.0 / double(o_.grad_accum)) : loss).backward();
      loss_sum += l;
      s_.tokens += batch_tokens(batch);
    }
    const std::vector<engine::Tensor> params = opt_->tensors();
    const double norm = o_.clip_norm > 0 ? engine::optim::clip_grad_norm_(params, o_.clip_norm)
                                         : engine::optim::grad_norm(params);
    check_finite(norm, "the gradient norm");
    opt_->set_lr(lr);
    opt_->step();
    const bool rebuild = target_.after_optimizer_step(s_.step + 1);  // reads the gradients
    opt_->zero_grad();
    if (rebuild) make_optimizer();
    ++s_.step;
    r_.last_loss = loss_sum / double(o_.grad_accum);
    return norm;
  }

  // Evaluates, keeps the best state, counts patience; true when training should stop early.
  bool run_eval() {
    target_.eval();
    std::map<std::string, double> m;
    {
      engine::NoGradGuard no_grad;
      m = evaluate_(target_);
    }
    target_.train();
    r_.last_eval = m, r_.last_eval_step = s_.step;
    auto it = m.find(o_.metric);
    engine::check<engine::KeyError>(it != m.end(), "[train] the evaluator returned no metric '", o_.metric, "'");
    nlohmann::json record = {{"step", s_.step}, {"epoch", s_.epoch}};
    for (const auto& [k, v] : m) record[k] = v;
    log_->write(record);
    const double v = it->second;
    const bool better = std::isnan(s_.best_metric) || (o_.greater_is_better ? v > s_.best_metric : v < s_.best_metric);
    progress_->note("eval at step " + std::to_string(s_.step) + ": " + o_.metric + " " + std::to_string(v) +
                    (better ? " (best)" : ""));
    if (better) {
      s_.best_metric = v, s_.best_step = s_.step, s_.evals_without_improvement = 0;
      if (o_.keep_best) save_best(record);
    } else {
      ++s_.evals_without_improvement;
    }
    r_.early_stopped = o_.patience > 0 && s_.evals_without_improvement >= o_.patience;
    if (r_.early_stopped) progress_->note("early stopping: no improvement in " + std::to_string(o_.patience) + " evaluations");
    return r_.early_stopped;
  }

  void save_best(const nlohmann::json& record) {
    replace_folder(out_ / "best", [&](const fs::path& dir) {
      target_.save_trainable(dir);
      engine::io::atomic_write_text(dir / "best_metric.json", record.dump(2) + "\n");
    });
  }

  void save() { save_checkpoint(out_, target_, *opt_, s_); }

  TrainTarget& target_;
  const Dataset& data_;
  const TrainOptions& o_;
  const Evaluator& evaluate_;
  fs::path out_;
  std::unique_ptr<engine::optim::AdamW> opt_;
  engine::optim::Schedule schedule_;
  TrainerState s_;
  Result r_;
  std::unique_ptr<MetricsLog> log_;
  Progress* progress_ = nullptr;
  std::vector<size_t> order_;
  int64_t order_epoch_ = -1;
};

}  // namespace

int64_t total_steps(const TrainOptions& o, size_t dataset_size) {
  if (o.max_steps > 0) return o.max_steps;
  const double micro_per_epoch = std::ceil(double(dataset_size) / double(o.batch_size));
  return std::max<int64_t>(1, int64_t(std::ceil(o.epochs * micro_per_epoch / double(o.grad_accum))));
}

Evaluator loss_evaluator(Dataset eval, int64_t batch_size) {
  return [eval = std::move(eval), batch_size](TrainTarget& target) {
    double total = 0;
    int64_t batches = 0;
    std::vector<size_t> idx;
    for (size_t begin = 0; begin < eval.size; begin += size_t(batch_size)) {
      idx.clear();
      for (size_t i = begin; i < std::min(eval.size, begin + size_t(batch_size)); ++i) idx.push_back(i);
      total += target.loss(eval.collate(idx, mix_seed(0xE7A1ull, uint64_t(batches)))).item<double>();
      ++batches;
    }
    return std::map<std::string, double>{{"eval_loss", batches ? total / double(batches) : NAN}};
  };
}

TrainResult train(TrainTarget& target, const Dataset& data, const TrainOptions& options, const Evaluator& evaluate) {
  options.validate();
  engine::check<engine::ValueError>(data.size > 0 && data.collate, "[train] the training set is empty");
  return Run(target, data, options, evaluate).run();
}

}  // namespace app::train
