// QLoRA's quantized base weights: quantized_linear (NF4 / int8, dequantize-inside-matmul) vs the
// dense f32 linear on BERT-base shapes, x [512, 768] and W [768, 768] / [3072, 768]. Each
// iteration runs both sides back to back, so the ratios are measured in one run:
//   dense/quant  = dense linear time / quantized_linear time   (1.0 = dequantization is free)
//   bytes/f32    = quantized weight bytes / f32 weight bytes     (NF4 ≈ 0.129, int8 ≈ 0.25)
//   bits/param   = storage bits per weight
// BM_QuantBackward times a training step's share: forward + backward with the weight frozen
// (dx only on both sides; FLOPs counted for both GEMMs).
#include <benchmark/benchmark.h>

#include <chrono>
#include <functional>

#include "bench/timing.h"
#include "engine/engine.h"
#include "engine/ops/linalg.h"
#include "engine/quant/quantized.h"

namespace {
using namespace engine;
using namespace engine::quant;

using bench::seconds;

// Times `quant_op` (the benchmark's own time) and `dense_op` in the same iterations.
void compare(benchmark::State& state, const QuantizedWeight& q, double flops,
             const std::function<void()>& quant_op, const std::function<void()>& dense_op) {
  quant_op(), dense_op();  // warm up: tile buffers, OpenBLAS buffers and threads
  double tq = 0, td = 0;
  for (auto _ : state) {
    double e = seconds(quant_op);
    td += seconds(dense_op);
    tq += e;
    state.SetIterationTime(e);
  }
  state.counters["dense/quant"] = td / tq;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * double(state.iterations()) / tq / 1e9);
  state.counters["bytes/f32"] = double(q.bytes()) / double(q.numel() * 4);
  state.counters["bits/param"] = q.bits_per_parameter();
  state.SetLabel(format_name(q.format()));
}

// Args: {format (0 = nf4, 1 = int8), out}; in = 768, 512 tokens.
void BM_QuantLinear(benchmark::State& state) {
  const int64_t n = 512, in = 768, out = state.range(1);
  Generator gen(1);
  Tensor x = randn({n, in}, DType::f32, gen), w = normal({out, in}, 0.0, 0.02, DType::f32, gen);
  Tensor b = zeros({out});
  QuantizedWeight q = quantize(w, state.range(0) == 0 ? QuantFormat::nf4 : QuantFormat::int8);
  compare(state, q, 2.0 * n * in * out, [&] { benchmark::DoNotOptimize(quantized_linear(x, q, b)); },
          [&] { benchmark::DoNotOptimize(linear(x, w, b)); });
}

// Forward + backward with the weight frozen and x trainable: dx = gy·W on both sides.
void BM_QuantBackward(benchmark::State& state) {
  const int64_t n = 512, in = 768, out = state.range(1);
  Generator gen(2);
  Tensor x = randn({n, in}, DType::f32, gen).requires_grad_();
  Tensor w = normal({out, in}, 0.0, 0.02, DType::f32, gen), g = ones({n, out});
  QuantizedWeight q = quantize(w, state.range(0) == 0 ? QuantFormat::nf4 : QuantFormat::int8);
  Tensor yq, yd;
  compare(state, q, 4.0 * n * in * out,
          [&] { yq = quantized_linear(x, q), yq.backward(g), x.zero_grad(); },
          [&] { yd = linear(x, w), yd.backward(g), x.zero_grad(); });
}

// dequantize() of the whole weight vs a plain copy of the f32 weight (copy/dequant: 1.0 means
// dequantizing costs what reading and writing f32 costs; the fused op never does either).
void BM_Dequantize(benchmark::State& state) {
  Generator gen(3);
  Tensor w = normal({state.range(1), 768}, 0.0, 0.02, DType::f32, gen);
  QuantizedWeight q = quantize(w, state.range(0) == 0 ? QuantFormat::nf4 : QuantFormat::int8);
  compare(state, q, 0, [&] { benchmark::DoNotOptimize(dequantize(q)); },
          [&] { benchmark::DoNotOptimize(w.clone()); });
  state.counters["copy/dequant"] = state.counters["dense/quant"];
  state.counters.erase("dense/quant");
  state.counters.erase("GFLOP/s");
}

}  // namespace

BENCHMARK(BM_QuantLinear)->ArgsProduct({{0, 1}, {768, 3072}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_QuantBackward)->ArgsProduct({{0, 1}, {768, 3072}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Dequantize)->ArgsProduct({{0, 1}, {3072}})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
