// Engine matmul / linear against raw cblas_sgemm on BERT-base shapes (batch 8 × 128 tokens),
// and a linear layer's backward with a frozen vs a trainable weight. Each iteration runs both
// sides back to back, so the reported ratios are measured in one run on the same machine state:
//   vs_blas       = raw BLAS time / engine time   (target ≥ 0.95)
//   frozen/train  = backward time with W frozen / with W trainable (target ≈ 0.5: dX only)
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <functional>

#include "engine/backend/cpu/threading.h"
#include "bench/timing.h"
#include "engine/engine.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"

namespace {
using namespace engine;

using bench::seconds;

// Times `engine_op` (the benchmark's own time) and `blas_op` in the same iterations.
void compare(benchmark::State& state, double flops, const std::function<void()>& engine_op,
             const std::function<void()>& blas_op) {
  engine_op(), blas_op();  // warm up: allocator caches, OpenBLAS buffers and threads
  double te = 0, tb = 0;
  for (auto _ : state) {
    double e = seconds(engine_op);
    tb += seconds(blas_op);
    te += e;
    state.SetIterationTime(e);
  }
  state.counters["vs_blas"] = tb / te;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * double(state.iterations()) / te / 1e9);
}

// y [N, out] = x [N, in] · Wᵀ with W [out, in] (torch layout): engine linear vs one sgemm.
void BM_Linear(benchmark::State& state) {
  const int n = int(state.range(0)), in = int(state.range(1)), out = int(state.range(2));
  Generator gen(1);
  Tensor x = randn({n, in}, DType::f32, gen), w = randn({out, in}, DType::f32, gen);
  Tensor y = empty({n, out});
  compare(state, 2.0 * n * in * out, [&] { benchmark::DoNotOptimize(linear(x, w)); },
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.f, x.data<float>(), in,
                        w.data<float>(), in, 0.f, y.data<float>(), out);
          });
}

// c [M, N] = a [M, K] @ b [K, N]: engine matmul vs one sgemm.
void BM_Matmul(benchmark::State& state) {
  const int m = int(state.range(0)), k = int(state.range(1)), n = int(state.range(2));
  Generator gen(2);
  Tensor a = randn({m, k}, DType::f32, gen), b = randn({k, n}, DType::f32, gen), c = empty({m, n});
  compare(state, 2.0 * m * n * k, [&] { benchmark::DoNotOptimize(matmul(a, b)); },
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.f, a.data<float>(), k,
                        b.data<float>(), n, 0.f, c.data<float>(), n);
          });
}

// Attention scores S [96, 128, 128] = Q [96, 128, 64] @ Kᵀ (K stored [96, 128, 64]): engine
// batched matmul on a transposed view vs a plain loop of sgemm calls (OpenBLAS threads each).
void BM_AttentionScores(benchmark::State& state) {
  const int bh = 96, t = 128, d = 64;
  Generator gen(3);
  Tensor q = randn({bh, t, d}, DType::f32, gen), k = randn({bh, t, d}, DType::f32, gen);
  Tensor s = empty({bh, t, t});
  compare(state, 2.0 * bh * t * t * d, [&] { benchmark::DoNotOptimize(matmul(q, k.transpose(1, 2))); },
          [&] {
            openblas_set_num_threads(num_threads());  // the baseline: OpenBLAS's own threads
            for (int i = 0; i < bh; ++i)
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, d, 1.f, q.data<float>() + i * t * d,
                          d, k.data<float>() + i * t * d, d, 0.f, s.data<float>() + i * t * t, t);
          });
}

// Backward of y = linear(x, W, b) on [8·128, 768] × [768, 768]: W frozen (dX only) vs
// trainable (dX, dW, db), timed in the same iterations.
void BM_LinearBackward(benchmark::State& state) {
  const int n = 1024, f = int(state.range(0));
  Generator gen(4);
  Tensor x = randn({n, f}, DType::f32, gen).requires_grad_();
  Tensor w_frozen = randn({f, f}, DType::f32, gen), b = zeros({f});
  Tensor w_train = w_frozen.detach().clone().requires_grad_(), g = ones({n, f});
  auto backward = [&](const Tensor& w) {
    Tensor y = linear(x, w, b);
    return seconds([&] { y.backward(g); });
  };
  backward(w_frozen), backward(w_train);
  double tf = 0, tt = 0;
  for (auto _ : state) {
    double e = backward(w_frozen);
    tt += backward(w_train);
    tf += e;
    state.SetIterationTime(e);
    x.zero_grad(), w_train.zero_grad();
  }
  state.counters["frozen/train"] = tf / tt;
}

}  // namespace

BENCHMARK(BM_Linear)->Args({1024, 768, 768})->Args({1024, 768, 3072})->Args({1024, 3072, 768})
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul)->Args({1024, 768, 768})->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AttentionScores)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearBackward)->Arg(768)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
