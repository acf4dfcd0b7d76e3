// TrainOptions: every knob of the training loop, settable from a JSON config (same keys as
// the fields) and/or command-line flags (add_train_flags: --lr, --schedule, ...; a flag given
// on the command line wins over the config file).
#pragma once
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace app::train {

struct TrainOptions {
  double lr = 5e-4;
  std::string schedule = "linear";  // constant | constant_with_warmup | linear | cosine (HF)
  int64_t warmup_steps = 0;
  double warmup_ratio = 0;          // used when warmup_steps is 0: ratio of the total steps
  double weight_decay = 0.01;       // HF's rule: none on biases and norm weights
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  int64_t batch_size = 8;
  int64_t grad_accum = 1;           // micro-batches per optimizer step
  int64_t max_steps = 0;            // > 0 wins over epochs
  double epochs = 1;
  int64_t eval_every = 0;           // optimizer steps between evaluations (0: only at the end)
  int64_t save_every = 0;           // optimizer steps between checkpoints (0: only at the end)
  int64_t log_every = 10;           // steps between metrics.jsonl lines / plain progress lines
  std::string metric = "eval_loss"; // the eval metric for best checkpoint and early stopping
  bool greater_is_better = false;   // metric direction ("max" vs "min")
  int64_t patience = 0;             // evaluations without improvement before stopping (0: never)
  bool keep_best = true;            // keep <output>/best with the best evaluation's trainable state
  double clip_norm = 1.0;           // global gradient norm (0: no clipping)
  uint64_t seed = 42;
  std::string output_dir;           // checkpoints, metrics.jsonl (required)
  bool resume = true;               // continue from <output>/checkpoint when it exists
  bool progress = true;             // the one-line progress display on stderr
  std::string precision = "f32";    // f32 | bf16 | f16 (precision.h)
  double loss_scale = 65536;        // f16: the initial dynamic loss scale (torch's GradScaler: 2^16)
  int64_t loss_scale_growth_interval = 2000;  // f16: clean steps before the scale doubles

  // Throws engine::ConfigError naming the first invalid field.
  void validate() const;
};

// Fields present in `json` override `options`, except those whose flag was given on `cli`
// (when set); unknown keys or wrong types are a ConfigError naming the key.
void apply_json(TrainOptions& options, const nlohmann::json& json, const CLI::App* cli = nullptr);
nlohmann::json to_json(const TrainOptions& options);

// Declares --lr, --schedule, --warmup-steps, ... on `app`, writing into `options`.
void add_train_flags(CLI::App& app, TrainOptions& options);

}  // namespace app::train
