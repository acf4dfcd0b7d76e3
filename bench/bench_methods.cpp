// PEFT method benchmark, one row per process: a BERT-base- or GPT-2-small-shaped random model
// (bench/models/model_specs.h), one method attached through peft::PeftModel (or none: full
// fine-tuning), AdamW over the trainable tensors, one warm-up step then `--steps` timed steps.
// Prints one JSON line; bench/run_method_bench.sh runs every method and prints the table of
// trainable parameters, step time and peak memory relative to full fine-tuning.
//
//   bench_methods --model bert --method lora --options '{"r":8,"target_modules":["query","value"]}'
//   bench_methods --model gpt2 --method full
//
// What is measured: the best step (forward + backward + AdamW step, train mode, dropout live),
// the engine allocator's peak tensor bytes during the timed steps (activations + gradients +
// optimizer state + weights), resident tensor bytes after the warm-up (weights + optimizer
// state), and the engine's counters for one step: dW GEMM launches ("linear.dw" backward)
// and bytes saved for backward.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>

#include "bench/models/model_specs.h"
#include "engine/backend/cpu/threading.h"
#include "engine/engine.h"
#include "engine/optim/adamw.h"
#include "models/model.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"

namespace {
using namespace engine;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model, method, options = "{}";
  int steps = 3, threads = 0;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double mib(int64_t bytes) { return double(bytes) / (1 << 20); }

// Counts the optimizer-state bytes: AdamW keeps two moments per trainable entry (compact for
// masked parameters), so 8 bytes per trained f32 entry.
int64_t trained_entries(const std::vector<std::pair<std::string, Tensor>>& params) {
  int64_t n = 0;
  for (const auto& [name, t] : params) n += grad_mask(t) ? grad_mask(t)->count() : t.numel();
  return n;
}

nlohmann::json run_row(const Options& o) {
  set_num_threads(o.threads);
  bench_models::ModelSpec spec = bench_models::model_spec(o.model);
  models::ModelPtr base = models::create_model(spec.config, spec.architecture, /*seed=*/0);
  const models::Batch batch = bench_models::make_batch(spec);
  const int64_t base_params = base->num_parameters();

  std::unique_ptr<peft::PeftModel> adapted;
  std::vector<std::pair<std::string, Tensor>> params;
  if (o.method == "full") {
    params = base->named_parameters();
  } else {
    adapted = std::make_unique<peft::PeftModel>(base);
    nlohmann::json overrides = nlohmann::json::parse(o.options);
    if (!overrides.contains("task_type")) overrides["task_type"] = o.model == "bert" ? "SEQ_CLS" : "CAUSAL_LM";
    adapted->add_adapter("default", peft::make_config(o.method, overrides), /*seed=*/1);
    params = adapted->trainable_parameters();
  }
  base->train();
  optim::AdamW opt(params, optim::AdamWOptions{.lr = 1e-4, .weight_decay = 0.01});
  auto step = [&] {
    Tensor loss = adapted ? adapted->forward(batch).loss : base->forward(batch).loss;
    loss.backward();
    opt.step();
    if (adapted) adapted->after_optimizer_step(1);
    opt.zero_grad();
    return loss.item<double>();
  };

  double loss = step();  // warm-up: allocator caches, optimizer state
  const double resident = mib(memory_stats().in_use);
  reset_peak_memory();
  std::vector<double> times;
  Counters one_step;
  for (int i = 0; i < o.steps; ++i) {
    reset_counters();
    auto t0 = Clock::now();
    loss = step();
    times.push_back(seconds_since(t0));
    one_step = counters();
  }
  const int64_t trainable = trained_entries(params);
  const int64_t all = adapted ? adapted->num_all_parameters() : base_params;
  return {{"model", o.model},
          {"method", o.method},
          {"options", nlohmann::json::parse(o.options)},
          {"trainable", trainable},
          {"all_params", all},
          {"trainable_pct", 100.0 * double(trainable) / double(all)},
          {"best_step_s", *std::min_element(times.begin(), times.end())},
          {"step_s", times},
          {"peak_tensor_mb", mib(memory_stats().peak)},
          {"resident_tensor_mb", resident},
          {"optimizer_state_mb", mib(8 * trainable)},
          {"dw_gemms_per_step", one_step.backward_count("linear.dw")},
          {"saved_for_backward_mb", mib(one_step.bytes_saved)},
          {"loss", loss},
          {"threads", num_threads()}};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"One row of the PEFT method benchmark (see bench/README.md, \"Methods\")"};
  app.add_option("--model", o.model, "bert | gpt2")->required();
  app.add_option("--method", o.method, "full, or a method preset name (peft train --method)")->required();
  app.add_option("--options", o.options, "method config overrides as JSON");
  app.add_option("--steps", o.steps, "timed steps after one warm-up step")->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "threads (0 = all cores)");
  CLI11_PARSE(app, argc, argv);
  try {
    std::cout << run_row(o).dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "bench_methods: " << o.model << " " << o.method << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
