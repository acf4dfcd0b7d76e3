// CPU kernel throughput (softmax, layer_norm, gelu forward) against a parallel memcpy of the
// same bytes measured in the same run. Counter bw_ratio = memcpy time / kernel time for equal
// bytes read + written (1.0 = as fast as copying; target ≥ 0.5).
#include <chrono>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cpu/simd_parallel.h"
#include "engine/backend/cpu/simd_unary.h"

namespace {

using namespace engine::cpu;

// Seconds per copy of `n` floats (src → dst, chunked over oneTBB like the kernels); the
// best of several repetitions, cached per size.
double memcpy_seconds(int64_t n) {
  static std::map<int64_t, double> cache;
  if (auto it = cache.find(n); it != cache.end()) return it->second;
  std::vector<float> src(size_t(n), 1.0f), dst(src.size());
  double best = 1e30;
  for (int rep = 0; rep < 20; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    for_chunks(n, kElementChunk, [&](int64_t b, int64_t e) {
      std::memcpy(dst.data() + b, src.data() + b, size_t(e - b) * sizeof(float));
    });
    benchmark::DoNotOptimize(dst.data());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return cache[n] = best;
}

std::vector<float> random_data(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = 12345;
  for (auto& x : v) s = s * 1664525u + 1013904223u, x = float(s >> 8) / float(1 << 24) * 8.0f - 4.0f;
  return v;
}

// Runs `kernel` (reading x, writing y) and reports bytes/s and the memcpy ratio.
template <class F>
void run(benchmark::State& state, F&& kernel) {
  const int64_t rows = state.range(0), cols = state.range(1), n = rows * cols;
  const std::vector<float> x = random_data(n);
  std::vector<float> y(x.size());
  const double copy_s = memcpy_seconds(n);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    kernel(x.data(), y.data(), rows, cols);
    benchmark::DoNotOptimize(y.data());
  }
  const double kernel_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                          double(state.iterations());
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 2 * int64_t(sizeof(float)));
  state.counters["bw_ratio"] = copy_s / kernel_s;
}

void BM_Memcpy(benchmark::State& state) {
  run(state, [](const float* x, float* y, int64_t rows, int64_t cols) {
    for_chunks(rows * cols, kElementChunk, [&](int64_t b, int64_t e) {
      std::memcpy(y + b, x + b, size_t(e - b) * sizeof(float));
    });
  });
}

void BM_Softmax(benchmark::State& state) {
  run(state, [](const float* x, float* y, int64_t rows, int64_t cols) { softmax_forward(x, y, rows, cols); });
}

void BM_LayerNorm(benchmark::State& state) {
  const std::vector<float> gamma(size_t(state.range(1)), 1.1f), beta(size_t(state.range(1)), 0.1f);
  std::vector<float> mean(static_cast<size_t>(state.range(0))), rstd(mean.size());
  run(state, [&](const float* x, float* y, int64_t rows, int64_t cols) {
    layer_norm_forward(x, gamma.data(), beta.data(), 1e-5, y, mean.data(), rstd.data(), rows, cols);
  });
}

void BM_Gelu(benchmark::State& state) {
  run(state, [](const float* x, float* y, int64_t rows, int64_t cols) {
    unary_forward(Unary::Gelu, x, y, rows * cols);
  });
}

// [8·128, 768]: BERT-base activations; [4·256, 50257]: GPT-2 logits.
#define SHAPES Args({8 * 128, 768})->Args({4 * 256, 50257})->Unit(benchmark::kMillisecond)->UseRealTime()
BENCHMARK(BM_Memcpy)->SHAPES;
BENCHMARK(BM_Softmax)->SHAPES;
BENCHMARK(BM_LayerNorm)->SHAPES;
BENCHMARK(BM_Gelu)->SHAPES;

}  // namespace

BENCHMARK_MAIN();
