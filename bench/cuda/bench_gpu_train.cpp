// One training-step row on the GPU: GPT-2 small (LM, batch 8 × seq 1024) or BERT-base
// (sequence classification, batch 32 × seq 128), random HF init from the real configs
// (bench/models/model_specs.h; no downloads), on cuda:0, AdamW (lr 1e-4, weight decay 0.01),
// in `peft train`'s mixed precision (app/train/precision.h, --precision, default bf16): frozen
// weights stored in bf16, trainable ones f32 masters, the forward under autocast (GEMMs in bf16
// on tensor cores, norms / softmax / loss in f32); f16 adds the GradScaler. --no-cast-frozen
// keeps the frozen weights f32 (torch.autocast over an f32 model, what torch_train_step.py
// does). Modes:
//   full  every parameter trains (dropout live, as HF's train mode)
//   lora  PEFT LoRA r=8, alpha 16, dropout 0 on q/v (BERT: query, value; GPT-2: c_attn), the
//         base frozen; BERT's classifier trains too (PEFT's SEQ_CLS modules_to_save)
// bench/cuda/torch_train_step.py is the same row in PyTorch + transformers + peft. One JSON
// line on stdout (bench/cuda/gpu_table.py prints the table):
//   {"side":"ours","model":"gpt2","mode":"lora","tokens_per_s":..,"peak_mem_mib":..,
//    "step_s_median":..,"step_s_best":..,"model_flops_per_step":..,"loss":..,...}
// Two warm-up steps, then --steps timed steps, each ended by cudaDeviceSynchronize; tokens/s
// from the median step. Peak memory: the engine's CUDA allocator's peak of live bytes since
// the model was on the device (torch.cuda.max_memory_allocated's meaning).
// Model FLOPs: full = 3F; lora = 2F + A (the frozen GEMMs still need dX, attention's backward
// is twice its forward A; LoRA's own rank-8 GEMMs are not counted), F from model_specs.h.
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app/train/precision.h"
#include "bench/models/model_specs.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/engine.h"
#include "engine/nn/module_device.h"
#include "engine/optim/adamw.h"
#include "engine/optim/grad_scaler.h"
#include "models/model.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"

namespace {
using namespace engine;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string model = "gpt2", mode = "lora";
  int64_t steps = 10, batch = 0, seq = 0;
  std::string precision = "bf16";
  bool cast_frozen = true;
  std::string device = "cuda";  // "cpu": the same code on the host, to check it where no GPU is
};

void sync(Device device) {
  if (device.is_cpu()) return;
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) fail<Error>("[bench_gpu_train] cudaDeviceSynchronize: ", cudaGetErrorString(e));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Attention FLOPs of one forward (QKᵀ and PV over every layer), as in model_specs.h.
double attention_flops(const bench_models::ModelSpec& s) {
  const auto& c = s.config;
  const double B = double(s.batch), T = double(s.seq);
  const double L = s.name == "bert" ? double(c["num_hidden_layers"]) : double(c["n_layer"]);
  const double C = s.name == "bert" ? double(c["hidden_size"]) : double(c["n_embd"]);
  return L * 4 * B * T * T * C;
}

std::string row(const Args& a, const bench_models::ModelSpec& s, const nn::CastReport& cast) {
  const bool half = a.precision != "f32";
  char buf[384];
  std::snprintf(buf, sizeof buf,
                "\"side\":\"ours\",\"model\":\"%s\",\"mode\":\"%s\",\"batch\":%lld,\"seq\":%lld,\"autocast\":%s%s%s,"
                "\"frozen_cast_numel\":%lld,\"device\":\"%s\"",
                a.model.c_str(), a.mode.c_str(), (long long)s.batch, (long long)s.seq, half ? "\"" : "",
                half ? a.precision.c_str() : "null", half ? "\"" : "", (long long)cast.numel, a.device.c_str());
  return buf;
}

int run(const Args& a) {
  bench_models::ModelSpec spec = bench_models::model_spec(a.model);
  check<ValueError>(a.model == "gpt2" || a.model == "bert", "[bench_gpu_train] --model gpt2 | bert");
  check<ValueError>(a.mode == "full" || a.mode == "lora", "[bench_gpu_train] --mode full | lora");
  spec.batch = a.batch > 0 ? a.batch : (a.model == "gpt2" ? 8 : 32);
  spec.seq = a.seq > 0 ? a.seq : (a.model == "gpt2" ? 1024 : 128);
  const Device gpu = parse_device(a.device);
  const app::train::Precision precision = app::train::parse_precision(a.precision);

  models::ModelPtr model = models::create_model(spec.config, spec.architecture, /*seed=*/0);
  nn::module_to(*model, gpu);
  model->train();  // dropout live, as torch's model.train()
  std::shared_ptr<peft::PeftModel> peft;
  std::vector<std::pair<std::string, Tensor>> trainable;
  if (a.mode == "lora") {
    peft = std::make_shared<peft::PeftModel>(model);
    const nlohmann::json targets = a.model == "gpt2" ? nlohmann::json{"c_attn"} : nlohmann::json{"query", "value"};
    peft->add_adapter("default",
                      peft::make_config("lora", {{"r", 8},
                                                 {"lora_alpha", 16},
                                                 {"lora_dropout", 0.0},
                                                 {"target_modules", targets},
                                                 {"task_type", a.model == "gpt2" ? "CAUSAL_LM" : "SEQ_CLS"}}),
                      /*seed=*/0);
    model->train();
    trainable = peft->trainable_parameters();
  } else {
    for (const auto& [name, t] : model->named_parameters())
      if (t.requires_grad()) trainable.emplace_back(name, t);
  }
  // As `peft train --precision`: the frozen weights once in half (LoRA; full trains them all).
  nn::CastReport cast;
  if (a.cast_frozen) cast = peft ? app::train::cast_frozen(*peft, precision) : app::train::cast_frozen(*model, precision);
  optim::GradScalerOptions scaling;
  scaling.enabled = precision == app::train::Precision::f16;
  optim::GradScaler scaler(scaling);
  int64_t trainable_numel = 0;
  for (const auto& [name, t] : trainable) trainable_numel += t.numel();
  optim::AdamW opt(trainable, optim::AdamWOptions{.lr = 1e-4, .weight_decay = 0.01});
  const models::Batch batch = models::batch_to(bench_models::make_batch(spec), gpu);
  sync(gpu);
  reset_peak_memory(gpu);

  double loss_value = 0;
  auto step = [&] {
    Tensor loss;
    {
      app::train::AutocastScope autocast(precision, gpu);
      loss = peft ? peft->forward(batch).loss : model->forward(batch).loss;
    }
    scaler.scale(loss).backward();  // outside the autocast scope, as torch recommends
    scaler.step(opt);               // f32 / bf16: opt.step()
    scaler.update();
    opt.zero_grad();
    return loss;
  };
  for (int i = 0; i < 2; ++i) loss_value = step().item<double>();  // warm-up (allocator pools, cuBLASLt plans)
  sync(gpu);
  std::vector<double> times;
  Tensor last;
  for (int64_t i = 0; i < a.steps; ++i) {
    const auto t0 = Clock::now();
    last = step();
    sync(gpu);
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  loss_value = last.item<double>();
  const double f = bench_models::forward_flops(spec);
  const double flops = a.mode == "full" ? 3 * f : 2 * f + attention_flops(spec);
  const double med = median(times), best = *std::min_element(times.begin(), times.end());
  const double tokens = double(spec.batch * spec.seq);
  std::printf(
      "{%s,\"steps\":%lld,\"step_s_median\":%.5f,\"step_s_best\":%.5f,\"tokens_per_s\":%.1f,"
      "\"peak_mem_mib\":%.1f,\"model_flops_per_step\":%.6g,\"trainable_params\":%lld,\"loss\":%.5f}\n",
      row(a, spec, cast).c_str(), (long long)a.steps, med, best, tokens / med,
      double(memory_stats(gpu).peak) / double(1 << 20), flops, (long long)trainable_numel, loss_value);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli("A GPU training-step row (GPT-2 small / BERT-base, full or LoRA, mixed precision)");
  Args a;
  cli.add_option("--model", a.model, "gpt2 | bert")->capture_default_str();
  cli.add_option("--mode", a.mode, "full | lora")->capture_default_str();
  cli.add_option("--steps", a.steps, "timed steps after 2 warm-ups")->capture_default_str();
  cli.add_option("--batch", a.batch, "default: gpt2 8, bert 32");
  cli.add_option("--seq", a.seq, "default: gpt2 1024, bert 128");
  cli.add_option("--device", a.device, "cuda (default) | cpu: the same code on the host, to check it without a GPU");
  cli.add_option("--precision", a.precision, app::train::kPrecisionHelp)->capture_default_str();
  bool no_autocast = false, no_cast = false;
  cli.add_flag("--no-autocast", no_autocast, "plain f32 (= --precision f32)");
  cli.add_flag("--no-cast-frozen", no_cast, "keep frozen weights f32 under autocast (torch_train_step.py's setup)");
  CLI11_PARSE(cli, argc, argv);
  if (no_autocast) a.precision = "f32";
  a.cast_frozen = !no_cast;
  if (a.device != "cpu" && !cuda::available()) {
    std::fprintf(stderr, "no CUDA device: nothing measured (built with CUDA: %d)\n", int(cuda::built()));
    return 2;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    // A row that cannot run (an op without a CUDA kernel yet) is reported, not hidden.
    std::string what = e.what();
    for (char& ch : what)
      if (ch == '"' || ch == '\\' || ch == '\n') ch = ' ';
    std::printf("{\"side\":\"ours\",\"model\":\"%s\",\"mode\":\"%s\",\"error\":\"%s\"}\n", a.model.c_str(),
                a.mode.c_str(), what.c_str());
    std::fprintf(stderr, "bench_gpu_train %s %s: %s\n", a.model.c_str(), a.mode.c_str(), e.what());
    return 1;
  }
}
