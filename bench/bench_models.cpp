// End-to-end training-step benchmark of one (model, mode) row: BERT-base / GPT-2 small /
// T5-small with random weights, built through models::create_model, trained with the
// engine's AdamW. Prints one JSON line that bench/run_model_bench.sh puts next to the
// PyTorch row of bench/pytorch/bench.py (same models, shapes, modes and step definition):
//
//   bench_models --model bert --mode full --steps 3
//
// Modes: full (train mode, dropout live, forward + backward + AdamW over every parameter),
// head (base frozen, only the head trains; see model_specs.h), forward (eval mode, no grad,
// forward + loss). One warm-up step, then `--steps` timed steps; the best is the headline
// (the median is reported too), phases are medians.
// Run one row per process: peak memory is the process's VmHWM plus the engine allocator's
// peak of tensor bytes. MFU = model FLOPs per second (model_specs.h) / the OpenBLAS sgemm
// rate measured in this same process (before and after the row) on a large square GEMM.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>

#include "bench/models/model_specs.h"
#include "engine/backend/cpu/threading.h"
#include "engine/engine.h"
#include "engine/optim/adamw.h"
#include "models/model.h"

namespace {
using namespace engine;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double vm_hwm_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB -> MiB
  return -1;
}

// OpenBLAS's own sgemm rate (GFLOP/s) on an n×n×n problem: the best of `reps` after a warm-up,
// on all of OpenBLAS's threads (the engine's large GEMMs run as tiles over oneTBB instead).
double sgemm_gflops(int n, int reps) {
  Generator gen(7);
  Tensor a = randn({n, n}, DType::f32, gen), b = randn({n, n}, DType::f32, gen), c = empty({n, n});
  openblas_set_num_threads(num_threads());
  auto gemm = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n,
                0.f, c.data<float>(), n);
  };
  gemm();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    gemm();
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * n * n * n / best / 1e9;
}

// Seconds spent in each phase of one step.
struct StepTimes {
  double forward = 0, backward = 0, optimizer = 0;
  double total() const { return forward + backward + optimizer; }
};

// One step of `mode` as a function returning its phase times and the loss.
using StepFn = std::function<StepTimes(double& loss)>;

StepFn make_step(models::PretrainedModel& model, const bench_models::ModelSpec& spec, const std::string& mode,
                 const models::Batch& batch, std::shared_ptr<optim::Optimizer>& opt) {
  if (mode == "forward") {
    model.eval();
    return [&model, &batch](double& loss) {
      NoGradGuard no_grad;
      StepTimes t;
      auto t0 = Clock::now();
      loss = model.forward(batch).loss.item<double>();
      t.forward = seconds_since(t0);
      return t;
    };
  }
  check<ValueError>(mode == "full" || mode == "head", "[bench_models] unknown mode \"", mode,
                    "\" (full, head, forward)");
  model.train();
  if (mode == "head") {
    model.requires_grad_(false);
    check<ValueError>(model.set_requires_grad(spec.head_regex, true) > 0, "[bench_models] no parameter matches ",
                      spec.head_regex);
  }
  // torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01): decay on every parameter.
  opt = std::make_shared<optim::AdamW>(model.named_parameters(), optim::AdamWOptions{.lr = 1e-4, .weight_decay = 0.01});
  return [&model, &batch, o = opt.get()](double& loss) {
    StepTimes t;
    auto t0 = Clock::now();
    Tensor l = model.forward(batch).loss;
    loss = l.item<double>();
    t.forward = seconds_since(t0);
    t0 = Clock::now();
    l.backward();
    t.backward = seconds_since(t0);
    t0 = Clock::now();
    o->step();
    o->zero_grad();
    t.optimizer = seconds_since(t0);
    return t;
  };
}

struct Options {
  std::string model, mode;
  int steps = 3, threads = 0, gemm_n = 2048;
  std::string config_patch;  // JSON merged into the model's config (e.g. {"dropout_rate":0})
  bool kernels = false;  // add the last step's per-kernel launches and FLOPs to the JSON
};

// {kernel: [forward launches, backward launches, GFLOP]} of the engine's counters.
nlohmann::json kernel_table(const Counters& c) {
  nlohmann::json t = nlohmann::json::object();
  for (const auto& [name, k] : c.kernels) t[name] = {k.forward, k.backward, double(k.flops) / 1e9};
  return t;
}

nlohmann::json run_row(const Options& o) {
  set_num_threads(o.threads);
  double gemm_rate = sgemm_gflops(o.gemm_n, 5);
  bench_models::ModelSpec spec = bench_models::model_spec(o.model);
  if (!o.config_patch.empty()) spec.config.merge_patch(nlohmann::json::parse(o.config_patch));
  models::ModelPtr model = models::create_model(spec.config, spec.architecture, /*seed=*/0);
  const double create_peak_mb = double(memory_stats().peak) / (1 << 20);
  const models::Batch batch = bench_models::make_batch(spec);
  std::shared_ptr<optim::Optimizer> opt;
  StepFn step = make_step(*model, spec, o.mode, batch, opt);

  double loss = 0;
  step(loss);  // warm-up: allocator caches, optimizer state, thread pools
  const double init_peak_mb = double(memory_stats().peak) / (1 << 20);  // includes model creation
  const double resident_mb = double(memory_stats().in_use) / (1 << 20);  // weights + optimizer state
  reset_peak_memory();
  std::vector<double> total, fwd, bwd, optim;
  Counters last;
  for (int i = 0; i < o.steps; ++i) {
    reset_counters();
    StepTimes t = step(loss);
    last = counters();
    total.push_back(t.total()), fwd.push_back(t.forward), bwd.push_back(t.backward), optim.push_back(t.optimizer);
  }
  const double step_peak_mb = double(memory_stats().peak) / (1 << 20);
  // The best of before and after the row: the machine's least disturbed GEMM rate, so a busy
  // moment does not inflate MFU.
  gemm_rate = std::max(gemm_rate, sgemm_gflops(o.gemm_n, 5));
  // The best step is the headline (least disturbed by other load on a shared machine).
  const double sec = *std::min_element(total.begin(), total.end()), tokens = double(spec.batch * spec.seq);
  const double model_flops = bench_models::step_flops(spec, o.mode);
  nlohmann::json row = {{"side", "ours"}, {"model", o.model}, {"mode", o.mode}, {"batch", spec.batch}, {"seq", spec.seq},
          {"threads", num_threads()}, {"params", model->num_parameters()},
          {"trainable", o.mode == "forward" ? 0 : model->num_parameters(/*trainable_only=*/true)},
          {"step_s", total}, {"best_step_s", sec}, {"median_step_s", median(total)}, {"tokens_per_s", tokens / sec},
          {"forward_s", median(fwd)}, {"backward_s", median(bwd)}, {"optimizer_s", median(optim)},
          {"peak_rss_mb", vm_hwm_mb()}, {"peak_tensor_mb", std::max(init_peak_mb, step_peak_mb)},
          {"step_peak_tensor_mb", step_peak_mb}, {"create_peak_tensor_mb", create_peak_mb}, {"resident_tensor_mb", resident_mb},
          {"model_gflop", model_flops / 1e9}, {"engine_counted_gflop", double(last.total_flops()) / 1e9},
          {"sgemm_gflops", gemm_rate}, {"mfu", model_flops / sec / (gemm_rate * 1e9)}, {"loss", loss}};
  if (o.kernels) row["kernels"] = kernel_table(last);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"One row of the model training-step benchmark (see bench/README.models.md)"};
  app.add_option("--model", o.model, "bert | gpt2 | t5")->required();
  app.add_option("--mode", o.mode, "full | head | forward")->required();
  app.add_option("--steps", o.steps, "timed steps after one warm-up step")->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "threads (0 = all cores)");
  app.add_option("--config-patch", o.config_patch, "JSON merged into the config (for experiments)");
  app.add_flag("--kernels", o.kernels, "report the last step's kernel launches and FLOPs");
  app.add_option("--gemm-n", o.gemm_n, "size of the square sgemm that sets the MFU reference");
  CLI11_PARSE(app, argc, argv);
  try {
    std::cout << run_row(o).dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "bench_models: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
