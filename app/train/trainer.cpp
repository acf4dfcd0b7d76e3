// The training loop (see trainer.h). One Run object per call holds the loop's state; each
// member function is one phase of a step.
#include "app/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "app/train/checkpoint.h"
#include "app/train/interrupt.h"
#include "app/train/metrics_log.h"
#include "app/train/precision.h"
#include "app/train/progress.h"
#include "engine/autograd/grad_mode.h"
#include "engine/io/atomic_file.h"
#include "engine/nn/module_device.h"
#include "engine/ops/binary.h"
#include "engine/ops/reduce.h"
#include "engine/optim/adamw.h"
#include "engine/optim/grad_scaler.h"
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

std::string format_scale(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// Restores the SIGINT action however the loop exits.
struct InterruptScope {
  InterruptScope() { install_interrupt_handler(); }
  ~InterruptScope() { remove_interrupt_handler(); }
};

class Run {
 public:
  Run(TrainTarget& target, const Dataset& data, const TrainOptions& o, const Evaluator& evaluate)
      : target_(target), data_(data), o_(o), evaluate_(evaluate), out_(o.output_dir),
        precision_(parse_precision(o.precision)), device_(engine::nn::module_device(target.module())),
        scaler_(scaler_options(o, precision_)) {
    const engine::nn::CastReport cast = target_.cast_frozen(precision_);  // once, before the optimizer sees them
    r_.cast_tensors = cast.tensors, r_.cast_numel = cast.numel;
    if (precision_ != Precision::f32) promote_trainable_to_f32(target_.trainable_parameters());
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
    if (precision_ != Precision::f32) progress.note(describe(precision_, {r_.cast_tensors, r_.cast_numel}));
    if (!resume_note_.empty()) progress.note(resume_note_);
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
      if (o_.log_every > 0 && s_.step % o_.log_every == 0) {
        nlohmann::json record = {{"step", s_.step}, {"epoch", s_.epoch}, {"loss", r_.last_loss}, {"lr", lr},
                                 {"grad_norm", grad_norm}, {"tokens", s_.tokens}, {"tokens_per_s", tps}};
        if (scaler_.is_enabled()) record["loss_scale"] = scaler_.get_scale(), record["skipped_steps"] = s_.skipped_steps;
        log_->write(record);
      }
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
    r_.skipped_steps = s_.skipped_steps;
    if (scaler_.is_enabled()) r_.loss_scale = scaler_.get_scale();
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

  static engine::optim::GradScalerOptions scaler_options(const TrainOptions& o, Precision p) {
    engine::optim::GradScalerOptions g;
    g.init_scale = o.loss_scale, g.growth_interval = o.loss_scale_growth_interval;
    g.enabled = p == Precision::f16;  // disabled: a transparent wrapper (f32 and bf16 steps are unchanged)
    return g;
  }

  void start_or_resume() {
    bool resumed = o_.resume && load_checkpoint(out_, target_, *opt_, s_);
    if (!resumed) {
      s_ = TrainerState{};
      seed_dropout(target_.module(), o_.seed);
    } else if (scaler_.is_enabled() && !std::isnan(s_.loss_scale)) {
      scaler_.load_state(s_.loss_scale, s_.loss_scale_growth_tracker);
    } else if (scaler_.is_enabled()) {
      resume_note_ = "resuming a " + s_.precision + " checkpoint in f16: the loss scale starts at " +
                     format_scale(scaler_.get_scale());
    }
    s_.precision = precision_name(precision_);
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
      engine::Tensor loss;
      {
        AutocastScope autocast(precision_, device_);  // the forward only: backward replays its dtypes
        loss = target_.loss(batch);
      }
      const double l = loss.item<double>();
      check_finite(l, precision_ == Precision::f16 ? "the loss (f16 activations may overflow: try bf16)" : "the loss");
      scaler_.scale(o_.grad_accum > 1 ? loss * (1.0 / double(o_.grad_accum)) : loss).backward();
      loss_sum += l;
      s_.tokens += batch_tokens(batch);
    }
    const std::vector<engine::Tensor> params = opt_->tensors();
    scaler_.unscale_(*opt_);  // f16: true gradients before clipping; records inf/NaN (else a no-op)
    double norm = NAN;
    if (!scaler_.found_inf()) {
      norm = o_.clip_norm > 0 ? engine::optim::clip_grad_norm_(params, o_.clip_norm) : engine::optim::grad_norm(params);
      check_finite(norm, "the gradient norm");
    }
    opt_->set_lr(lr);
    if (!scaler_.step(*opt_)) skip_step(params);  // f32 / bf16: always steps
    const bool rebuild = target_.after_optimizer_step(s_.step + 1);  // reads the gradients
    opt_->zero_grad();
    scaler_.update();
    if (rebuild) {
      if (precision_ != Precision::f32) promote_trainable_to_f32(target_.trainable_parameters());
      make_optimizer();
    }
    ++s_.step;
    r_.last_loss = loss_sum / double(o_.grad_accum);
    return norm;
  }

  // An f16 step whose gradients hold an inf/NaN: nothing was updated; the gradients become zeros
  // (not dropped: after-step hooks such as AdaLoRA's need them defined, and finite).
  void skip_step(const std::vector<engine::Tensor>& params) {
    engine::NoGradGuard no_grad;
    for (engine::Tensor p : params)
      if (p.grad().defined()) p.set_grad(engine::zeros_like(p.grad()));
    ++s_.skipped_steps;
    progress_->note("step " + std::to_string(s_.step + 1) + ": inf/NaN gradients at loss scale " +
                    format_scale(scaler_.get_scale()) + ", step skipped (" + std::to_string(s_.skipped_steps) +
                    " so far)");
  }

  // Evaluates, keeps the best state, counts patience; true when training should stop early.
  bool run_eval() {
    target_.eval();
    std::map<std::string, double> m;
    {
      engine::NoGradGuard no_grad;
      AutocastScope autocast(precision_, device_);
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

  void save() {
    if (scaler_.is_enabled()) s_.loss_scale = scaler_.get_scale(), s_.loss_scale_growth_tracker = scaler_.growth_tracker();
    save_checkpoint(out_, target_, *opt_, s_);
  }

  TrainTarget& target_;
  const Dataset& data_;
  const TrainOptions& o_;
  const Evaluator& evaluate_;
  fs::path out_;
  Precision precision_;
  engine::Device device_;
  engine::optim::GradScaler scaler_;
  std::string resume_note_;
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
