// LoRA's forward + backward on the CPU: the fused engine::lowrank_linear against the composite
// it replaced in LoraLinear (linear + linear(linear(x, A), B) · s), at GPT-2 small's c_attn
// (Conv1D [768 -> 2304], bias, frozen; r = 8, s = 2), batch 8 × 128 and 4 × 512 tokens, with
// x frozen (the first adapted layer's input) and x trainable (a deeper layer's). Each
// iteration runs both sides back to back, so the ratio is measured in one run:
//   composite/fused = composite time / fused time   (> 1: the fusion pays)
// The removed work is elementwise ([N, out] scale + add forward, [N, out] scale and an [N, in]
// add backward) next to three GEMMs, so the ratio can only be modest on a GEMM-bound CPU.
#include <benchmark/benchmark.h>

#include <chrono>
#include <functional>

#include "bench/timing.h"
#include "engine/engine.h"
#include "engine/ops/lowrank_linear.h"

namespace {
using namespace engine;

using bench::seconds;

void BM_LoraForwardBackward(benchmark::State& state) {
  const int64_t n = state.range(0), in = 768, out = 2304, r = 8;
  const bool x_trains = state.range(1) != 0;
  const double s = 2.0;
  Generator gen(1);
  Tensor x = randn({n, in}, DType::f32, gen);
  if (x_trains) x.requires_grad_();
  Tensor w = randn({in, out}, DType::f32, gen) * 0.02, b = randn({out}, DType::f32, gen) * 0.02;  // frozen
  Tensor A = (randn({r, in}, DType::f32, gen) * 0.05).requires_grad_();
  Tensor B = (randn({out, r}, DType::f32, gen) * 0.05).requires_grad_();
  Tensor g = randn({n, out}, DType::f32, gen);
  auto step = [&](bool fused) {
    Tensor y = fused ? lowrank_linear(x, w, b, WeightLayout::in_out, x, A, B, s)
                     : linear(x, w, b, WeightLayout::in_out) + linear(linear(x, A), B) * s;
    y.backward(g);
    A.zero_grad(), B.zero_grad(), x.zero_grad();
  };
  step(true), step(false);  // warm up: allocator caches, OpenBLAS buffers and threads
  double tf = 0, tc = 0;
  for (auto _ : state) {
    double f = seconds([&] { step(true); });
    tc += seconds([&] { step(false); });
    tf += f;
    state.SetIterationTime(f);
  }
  state.counters["composite/fused"] = tc / tf;
}

BENCHMARK(BM_LoraForwardBackward)
    ->ArgNames({"tokens", "x_grad"})
    ->ArgsProduct({{8 * 128, 4 * 512}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
