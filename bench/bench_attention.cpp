// Fused flash-style attention (engine/backend/cpu/attention.h) against the unfused composition
// an autograd engine would run without it: materialised S = scale·QKᵀ via cblas, softmax, P·V,
// and the matching backward. Both run forward + backward on B=8, H=12, D=64 in the same
// iteration; the benchmark reports their time ratio, the cost of attention dropout, and the
// extra memory each allocates beyond inputs, outputs and gradients (fused: O(T) per row,
// unfused: O(T²)).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <tbb/parallel_for.h>

#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "engine/backend/cpu/attention.h"
#include "engine/backend/cpu/attention_simd.h"
#include "engine/backend/cpu/threading.h"

namespace {

using engine::cpu::Strides4;
namespace attn = engine::cpu::attn;

struct Shapes {
  int64_t B = 8, H = 12, T, D = 64;
  int64_t head() const { return T * D; }
  int64_t heads() const { return B * H; }
};

// The unfused baseline. S/P and dS are [B,H,T,T]: P is saved for backward, as autograd would.
struct Unfused {
  Shapes s;
  std::vector<float> P, dS;
  explicit Unfused(Shapes sh) : s(sh), P(size_t(sh.heads() * sh.T * sh.T)), dS(P.size()) {}

  void forward(const float* q, const float* k, const float* v, float* o) {
    const int T = int(s.T), D = int(s.D);
    const float scale = 1.f / std::sqrt(float(D));
    tbb::parallel_for(int64_t(0), s.heads(), [&](int64_t bh) {
      float* p = P.data() + bh * T * T;
      const float *qh = q + bh * s.head(), *kh = k + bh * s.head(), *vh = v + bh * s.head();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qh, D, kh, D, 0.f, p, T);
      for (int i = 0; i < T; ++i) {  // row softmax, with the same SIMD exp as the fused kernel
        float* r = p + i * T;
        float inv = 1.f / attn::exp_shift_sum(r, T, attn::row_max(r, T));
        for (int j = 0; j < T; ++j) r[j] *= inv;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.f, p, T, vh, D, 0.f,
                  o + bh * s.head(), D);
    });
  }

  void backward(const float* q, const float* k, const float* v, const float* dout, float* dq,
                float* dk, float* dv) {
    const int T = int(s.T), D = int(s.D);
    const float scale = 1.f / std::sqrt(float(D));
    tbb::parallel_for(int64_t(0), s.heads(), [&](int64_t bh) {
      const float *p = P.data() + bh * T * T, *doh = dout + bh * s.head();
      const float *qh = q + bh * s.head(), *kh = k + bh * s.head(), *vh = v + bh * s.head();
      float* ds = dS.data() + bh * T * T;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.f, p, T, doh, D, 0.f,
                  dv + bh * s.head(), D);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.f, doh, D, vh, D, 0.f, ds, T);
      for (int i = 0; i < T; ++i) {  // softmax backward
        const float* pr = p + i * T;
        float delta = cblas_sdot(T, pr, 1, ds + i * T, 1);
        attn::softmax_grad_row(ds + i * T, pr, T, delta);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, scale, ds, T, kh, D, 0.f,
                  dq + bh * s.head(), D);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, scale, ds, T, qh, D, 0.f,
                  dk + bh * s.head(), D);
    });
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_AttentionFwdBwd(benchmark::State& state) {
  Shapes sh{.T = state.range(0)};
  const size_t n = size_t(sh.heads() * sh.head());
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::vector<float> q(n), k(n), v(n), dout(n), out(n), dq(n), dk(n), dv(n), lse(size_t(sh.heads() * sh.T));
  for (auto* x : {&q, &k, &v, &dout})
    for (float& e : *x) e = normal(rng);

  engine::cpu::AttentionArgs<float> a;
  a.B = sh.B, a.H = sh.H, a.Tq = a.Tk = sh.T, a.D = a.Dv = sh.D;
  Strides4 st = engine::cpu::contiguous_strides(sh.H, sh.T, sh.D);
  a.q = q.data(), a.k = k.data(), a.v = v.data(), a.sq = a.sk = a.sv = st;
  a.scale = 1.f / std::sqrt(float(sh.D));
  engine::cpu::AttentionGrads<float> g{out.data(), st, lse.data(), dout.data(), st, dq.data(), st,
                                       dk.data(), st, dv.data(), st, nullptr, {}};
  Unfused unfused(sh);

  engine::cpu::SerialBlas serial;  // the baseline's GEMMs also run inside oneTBB tasks
  auto a_drop = a;  // BERT's attention dropout: the Philox mask is drawn twice per element
  a_drop.dropout_p = 0.1f;
  double fused_s = 0, unfused_s = 0, dropout_s = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    engine::cpu::attention_forward(a, out.data(), st, lse.data());
    engine::cpu::attention_backward(a, g);
    fused_s += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    engine::cpu::attention_forward(a_drop, out.data(), st, lse.data());
    engine::cpu::attention_backward(a_drop, g);
    dropout_s += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    unfused.forward(q.data(), k.data(), v.data(), out.data());
    unfused.backward(q.data(), k.data(), v.data(), dout.data(), dq.data(), dk.data(), dv.data());
    unfused_s += seconds_since(t0);
    benchmark::DoNotOptimize(dq.data());
  }
  const double iters = double(state.iterations()), MB = 1.0 / (1 << 20);
  state.counters["fused_ms"] = 1e3 * fused_s / iters;
  state.counters["unfused_ms"] = 1e3 * unfused_s / iters;
  state.counters["unfused/fused"] = unfused_s / fused_s;
  state.counters["fused_dropout/fused"] = dropout_s / fused_s;
  // Fused: lse (saved, [B,H,T]) + per running task the backward's scratch (three 64×64 score
  // blocks, dQ rows T×D, dK/dV blocks 64×D, delta T). Unfused: P (saved) + dS, each [B,H,T,T].
  state.counters["fused_extra_MB"] = double(lse.size() * 4) * MB;
  state.counters["fused_scratch_KB_per_thread"] = double((3 * 64 * 64 + sh.T * sh.D + 2 * 64 * sh.D + sh.T) * 4) / 1024;
  state.counters["unfused_extra_MB"] = double((unfused.P.size() + unfused.dS.size()) * 4) * MB;
}
BENCHMARK(BM_AttentionFwdBwd)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
