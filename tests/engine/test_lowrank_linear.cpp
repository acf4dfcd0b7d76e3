// lowrank_linear (linear + scale·(x_a Aᵀ) Bᵀ as one op): values against the composite of
// three linears, every gradient by finite differences in f64 (both layouts, with and without
// bias, x_a = x and x_a ≠ x, batch dims, transposed x), frozen-gradient masking through the
// kernel and saved-bytes counters, dtypes and autocast as linear, typed shape errors, and a
// GPU parity test (skipped without a device).
#include <gtest/gtest.h>

#include <string>

#include "cuda_parity.h"
#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/ops/lowrank_linear.h"

using namespace engine;

namespace {

constexpr int64_t kIn = 7, kOut = 5, kRank = 3;
constexpr double kScale = 1.75;

struct Operands {
  Tensor x, w, b, xa, A, B;
};

// Random operands in `dt`. x is [2, 3, in], or with `transposed` a [6, in] view of an [in, 6]
// buffer (a strided input the GEMM reads in place). The weight follows `layout`.
Operands make(DType dt, WeightLayout layout, bool transposed, uint64_t seed = 1) {
  Generator gen(seed);
  Operands o;
  o.x = transposed ? randn({kIn, 6}, dt, gen).t() : randn({2, 3, kIn}, dt, gen);
  o.w = layout == WeightLayout::out_in ? randn({kOut, kIn}, dt, gen) : randn({kIn, kOut}, dt, gen);
  o.b = randn({kOut}, dt, gen);
  o.xa = randn(o.x.shape(), dt, gen);
  o.A = randn({kRank, kIn}, dt, gen);
  o.B = randn({kOut, kRank}, dt, gen);
  return o;
}

// What LoraLinear computed before the fused op: three linears, a scale and an add.
Tensor composite(const Tensor& x, const Tensor& w, const Tensor& b, WeightLayout layout, const Tensor& xa,
                 const Tensor& A, const Tensor& B, double s) {
  return linear(x, w, b, layout) + linear(linear(xa, A), B) * s;
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  Tensor da = to_dtype(a, DType::f64), db = to_dtype(b, DType::f64);
  return max(abs(da - db) / (abs(db) + 1.0)).item<double>();
}

Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(); }

const char* layout_name(WeightLayout l) { return l == WeightLayout::out_in ? "out_in" : "in_out"; }

}  // namespace

TEST(LowrankLinear, EqualsTheCompositeInF64AndF32) {
  for (DType dt : {DType::f64, DType::f32})
    for (WeightLayout layout : {WeightLayout::out_in, WeightLayout::in_out})
      for (bool bias : {false, true})
        for (bool shared : {false, true})
          for (bool transposed : {false, true}) {
            Operands o = make(dt, layout, transposed);
            Tensor b = bias ? o.b : Tensor{}, xa = shared ? o.x : o.xa;
            Tensor got = lowrank_linear(o.x, o.w, b, layout, xa, o.A, o.B, kScale);
            Tensor want = composite(o.x, o.w, b, layout, xa, o.A, o.B, kScale);
            EXPECT_EQ(got.dtype(), dt);
            EXPECT_LT(max_rel_diff(got, want), dt == DType::f64 ? 1e-12 : 1e-5)
                << dtype_name(dt) << " " << layout_name(layout) << " bias " << bias << " shared " << shared
                << " transposed " << transposed;
          }
}

// Every input's gradient by central differences, for each combination of which inputs train:
// all (x_a read from dW's saved x), frozen weight and bias with a trainable x (the x_a slot),
// and LoRA's case (only A and B).
TEST(LowrankLinear, GradcheckEveryInputInF64) {
  using autograd::gradcheck;
  for (WeightLayout layout : {WeightLayout::out_in, WeightLayout::in_out})
    for (bool bias : {false, true})
      for (bool shared : {false, true})
        for (bool transposed : {false, true})
          for (int trains = 0; trains < 3; ++trains) {
            Operands o = make(DType::f64, layout, transposed, 7);
            const bool all = trains == 0, x_too = trains <= 1;
            Tensor x = x_too ? leaf(o.x) : o.x.detach(), w = all ? leaf(o.w) : o.w.detach();
            Tensor b = bias ? (all ? leaf(o.b) : o.b.detach()) : Tensor{};
            // Unused slots hold a constant placeholder (gradcheck perturbs only inputs with grad).
            Tensor xa = shared ? zeros({1}, DType::f64) : (x_too ? leaf(o.xa) : o.xa.detach());
            std::vector<Tensor> in = {x, w, b.defined() ? b : zeros({1}, DType::f64), xa, leaf(o.A), leaf(o.B)};
            auto fn = [&](const std::vector<Tensor>& v) {
              return lowrank_linear(v[0], v[1], bias ? v[2] : Tensor{}, layout, shared ? v[0] : v[3], v[4], v[5],
                                    kScale);
            };
            auto r = gradcheck(fn, in);
            EXPECT_TRUE(r.ok) << r.message << " | " << layout_name(layout) << " bias " << bias << " shared "
                              << shared << " transposed " << transposed << " trains " << trains;
          }
}

// The gradients equal the composite's too (gradcheck above proves them against finite
// differences; this pins the shared-buffer accumulation against the two-GEMM-plus-add path).
TEST(LowrankLinear, GradientsEqualTheCompositeInF32) {
  for (bool shared : {false, true}) {
    Operands o = make(DType::f32, WeightLayout::in_out, false, 3);
    Generator gen(4);
    Tensor cot = randn({2, 3, kOut}, DType::f32, gen);
    auto run = [&](bool fused) {
      std::vector<Tensor> v = {leaf(o.x), leaf(o.w), leaf(o.b), leaf(o.xa), leaf(o.A), leaf(o.B)};
      Tensor xa = shared ? v[0] : v[3];
      Tensor y = fused ? lowrank_linear(v[0], v[1], v[2], WeightLayout::in_out, xa, v[4], v[5], kScale)
                       : composite(v[0], v[1], v[2], WeightLayout::in_out, xa, v[4], v[5], kScale);
      sum(y * cot).backward();
      return v;
    };
    auto f = run(true), c = run(false);
    for (size_t i = 0; i < f.size(); ++i) {
      if (shared && i == 3) continue;
      ASSERT_TRUE(f[i].grad().defined()) << i;
      EXPECT_LT(max_rel_diff(f[i].grad(), c[i].grad()), 1e-5) << "shared " << shared << " input " << i;
    }
  }
}

// LoRA's case: frozen W and bias, x without grad. Backward runs the two adapter dW GEMMs, one
// rank-r dx GEMM (gs = s·g B, as the composite's B-linear dx) and nothing of size N·in·out.
TEST(LowrankLinear, FrozenWeightAndInputRunOnlyTheAdapterGemms) {
  Operands o = make(DType::f32, WeightLayout::out_in, false);
  const int64_t n = 6;
  Tensor A = leaf(o.A), B = leaf(o.B);
  reset_counters();
  Tensor y = lowrank_linear(o.x, o.w, o.b, WeightLayout::out_in, o.x, A, B, kScale);
  Counters fwd = counters();
  EXPECT_EQ(fwd.count("linear"), 3);
  EXPECT_EQ(fwd.count("add"), 0);  // no [N, out] elementwise pass
  // Saved: x (for dA), B (for gs) and hs [N, r]; never W.
  EXPECT_EQ(fwd.bytes_saved, int64_t(sizeof(float)) * (n * kIn + kOut * kRank + n * kRank));
  reset_counters();
  sum(y).backward();
  Counters c = counters();
  EXPECT_EQ(c.backward_count("linear.dw"), 2);  // A and B, not W
  EXPECT_EQ(c.backward_count("linear.db"), 0);
  EXPECT_EQ(c.backward_count("linear.dx"), 1);
  EXPECT_EQ(c.kernels["linear.dx"].flops, 2 * n * kOut * kRank);  // the rank-r GEMM only, no x gradient
  EXPECT_EQ(c.kernels["linear.dw"].flops, 2 * (n * kOut * kRank + n * kRank * kIn));
  EXPECT_FALSE(o.w.grad().defined());
  EXPECT_TRUE(A.grad().defined() && B.grad().defined());
}

// With x trainable and x_a = x: both dx GEMMs write one buffer, the second accumulating.
TEST(LowrankLinear, SharedInputAccumulatesBothDxGemmsWithoutAnAdd) {
  Operands o = make(DType::f32, WeightLayout::in_out, false);
  Tensor x = leaf(o.x), A = leaf(o.A), B = leaf(o.B);
  Tensor y = lowrank_linear(x, o.w, {}, WeightLayout::in_out, x, A, B, kScale);
  reset_counters();
  sum(y).backward();
  Counters c = counters();
  EXPECT_EQ(c.backward_count("linear.dx"), 3);  // g W, += gs A, and gs itself
  EXPECT_EQ(c.backward_count("linear.dw"), 2);
  EXPECT_EQ(c.backward_count("add"), 0);
  EXPECT_EQ(c.kernels["linear.dx"].flops, 2 * 6 * (kOut * kIn + kRank * kIn + kOut * kRank));
}

// The linear.* kernel counts equal the composite's for every grad pattern (the counters keep
// their meaning), and the fused op never saves more bytes.
TEST(LowrankLinear, CountsMatchTheCompositeAndSavesNoMoreBytes) {
  for (bool shared : {false, true})
    for (int trains = 0; trains < 4; ++trains) {
      Operands o = make(DType::f32, WeightLayout::out_in, false);
      auto run = [&](bool fused) {
        const bool w_trains = trains == 0, x_trains = trains <= 1, a_trains = trains != 3;
        Tensor x = x_trains ? leaf(o.x) : o.x, w = w_trains ? leaf(o.w) : o.w, b = w_trains ? leaf(o.b) : o.b;
        Tensor xa = shared ? x : (x_trains ? leaf(o.xa) : o.xa);
        Tensor A = a_trains ? leaf(o.A) : o.A, B = leaf(o.B);
        reset_counters();
        Tensor y = fused ? lowrank_linear(x, w, b, WeightLayout::out_in, xa, A, B, kScale)
                         : composite(x, w, b, WeightLayout::out_in, xa, A, B, kScale);
        sum(y).backward();
        return counters();
      };
      Counters f = run(true), c = run(false);
      const std::string what = "shared " + std::to_string(shared) + " trains " + std::to_string(trains);
      for (const char* k : {"linear", "linear.dx", "linear.dw", "linear.db"}) {
        EXPECT_EQ(f.count(k), c.count(k)) << what << " " << k;
        EXPECT_EQ(f.kernels[k].flops, c.kernels[k].flops) << what << " " << k;
      }
      EXPECT_LE(f.bytes_saved, c.bytes_saved) << what;
      EXPECT_EQ(f.nodes_recorded, 1 + 1) << what;  // lowrank_linear and the sum
    }
}

// Dtypes as linear: the promoted dtype of every operand, half types computed in f32 on the
// CPU; under autocast f32 leaves go through bf16 and still get f32 gradients.
TEST(LowrankLinear, DtypesAndAutocastAsLinear) {
  Operands o = make(DType::f32, WeightLayout::out_in, false);
  Tensor wb = o.w.to(DType::bf16);
  EXPECT_EQ(lowrank_linear(o.x, wb, {}, WeightLayout::out_in, o.x, o.A, o.B, 1.0).dtype(), DType::f32);
  Tensor y16 = lowrank_linear(o.x.to(DType::bf16), wb, {}, WeightLayout::out_in, o.x.to(DType::bf16),
                              o.A.to(DType::bf16), o.B.to(DType::bf16), 1.0);
  EXPECT_EQ(y16.dtype(), DType::bf16);
  auto run = [&](bool fused) {
    std::vector<Tensor> v = {leaf(o.x), leaf(o.A), leaf(o.B)};
    Tensor y;
    {
      AutocastGuard guard(DType::bf16, /*cpu=*/true);
      y = fused ? lowrank_linear(v[0], wb, o.b, WeightLayout::out_in, v[0], v[1], v[2], kScale)
                : composite(v[0], wb, o.b, WeightLayout::out_in, v[0], v[1], v[2], kScale);
    }
    EXPECT_EQ(y.dtype(), DType::bf16);
    sum(to_dtype(y, DType::f32)).backward();
    v.insert(v.begin(), y);
    return v;
  };
  auto f = run(true), c = run(false);
  // bf16: the composite rounds h, B's product, the scaled term and the sum, each near the size
  // of the terms (which partly cancel), so the bound is relative to the largest output.
  const double scale_ref = 1.0 + max(abs(to_dtype(c[0], DType::f64))).item<double>();
  EXPECT_LT(max(abs(to_dtype(f[0], DType::f64) - to_dtype(c[0], DType::f64))).item<double>() / scale_ref, 2e-2);
  for (size_t i = 1; i < f.size(); ++i) {
    EXPECT_EQ(f[i].grad().dtype(), DType::f32) << i;
    EXPECT_LT(max_rel_diff(f[i].grad(), c[i].grad()), 2e-2) << i;
  }
}

TEST(LowrankLinear, ShapeErrorsNameTheOpAndTheShapes) {
  Operands o = make(DType::f32, WeightLayout::out_in, false);
  auto expect_error = [](const std::function<void()>& f, const std::string& part) {
    try {
      f();
      ADD_FAILURE() << "no error; wanted one mentioning " << part;
    } catch (const ShapeError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("[lowrank_linear]"), std::string::npos) << msg;
      EXPECT_NE(msg.find(part), std::string::npos) << msg;
    }
  };
  const auto L = WeightLayout::out_in;
  expect_error([&] { lowrank_linear(o.x, o.w.t(), {}, L, o.x, o.A, o.B, 1); }, "[7,5]");
  expect_error([&] { lowrank_linear(o.x, o.w, zeros({4}), L, o.x, o.A, o.B, 1); }, "[4]");
  expect_error([&] { lowrank_linear(o.x, o.w, {}, L, o.xa.narrow(1, 0, 2), o.A, o.B, 1); }, "[2,2,7]");
  expect_error([&] { lowrank_linear(o.x, o.w, {}, L, o.x, o.A.t(), o.B, 1); }, "[7,3]");
  expect_error([&] { lowrank_linear(o.x, o.w, {}, L, o.x, o.A, o.B.t(), 1); }, "[3,5]");
  expect_error([&] { lowrank_linear(o.x, o.w, {}, L, o.x, o.A, o.B.narrow(1, 0, 2), 1); }, "[5,2]");
  EXPECT_THROW(lowrank_linear(o.x.to(DType::i64), o.w.to(DType::i64), {}, L, o.x.to(DType::i64),
                              o.A.to(DType::i64), o.B.to(DType::i64), 1),
               DTypeError);
}

// ---- GPU: forward and every gradient against the CPU in f64 (f32 / bf16 / f16, contiguous
// and transposed leaves), then LoRA's frozen-weight case and autocast.

TEST(CudaLowrankLinear, ForwardAndGradientsMatchTheCpu) {
  REQUIRE_GPU();
  using L = WeightLayout;
  cuda_parity::check_all({
      {"lowrank shared x, bias, out_in",
       [](auto& v) { return lowrank_linear(v[0], v[1], v[2], L::out_in, v[0], v[3], v[4], 0.5); },
       {{3, 11, 40}, {23, 40}, {23}, {8, 40}, {23, 8}}},
      {"lowrank separate x_a, no bias, in_out",
       [](auto& v) { return lowrank_linear(v[0], v[1], Tensor{}, L::in_out, v[2], v[3], v[4], 2.0); },
       {{13, 40}, {40, 23}, {13, 40}, {5, 40}, {23, 5}}},
      {"lowrank odd rank 1",
       [](auto& v) { return lowrank_linear(v[0], v[1], v[2], L::in_out, v[0], v[3], v[4], 3.0); },
       {{2, 5, 17}, {17, 9}, {9}, {1, 17}, {9, 1}}},
  });
}

TEST(CudaLowrankLinear, FrozenWeightMatchesTheCpuAndRunsOnlyAdapterGemms) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
    Operands o = make(DType::f64, WeightLayout::out_in, false, 11);
    std::vector<Tensor> cpu, gpu;
    for (const Tensor& t : {o.x, o.w, o.b, o.A, o.B}) {
      Tensor r = t.to(dt).to(DType::f64);
      cpu.push_back(r);
      gpu.push_back(r.to(dt).to(Device::cuda()));
    }
    for (size_t i : {3, 4}) cpu[i] = leaf(cpu[i]), gpu[i] = leaf(gpu[i]);
    Tensor y_cpu = lowrank_linear(cpu[0], cpu[1], cpu[2], WeightLayout::out_in, cpu[0], cpu[3], cpu[4], kScale);
    Tensor y_gpu = lowrank_linear(gpu[0], gpu[1], gpu[2], WeightLayout::out_in, gpu[0], gpu[3], gpu[4], kScale);
    ASSERT_EQ(y_gpu.dtype(), dt);
    cuda_parity::expect_close(y_gpu, y_cpu, dt, std::string("frozen forward ") + dtype_name(dt));
    sum(y_cpu).backward();
    reset_counters();
    sum(y_gpu).backward();
    EXPECT_EQ(counters().backward_count("linear.dw"), 2) << dtype_name(dt);
    EXPECT_EQ(counters().backward_count("linear.dx"), 1) << dtype_name(dt);
    for (size_t i : {3, 4})
      cuda_parity::expect_close(gpu[i].grad(), cpu[i].grad(), dt, std::string("frozen grad ") + dtype_name(dt));
  }
}

TEST(CudaLowrankLinear, AutocastMatchesTheCpuAutocast) {
  REQUIRE_GPU();
  Operands o = make(DType::f32, WeightLayout::in_out, false, 12);
  auto run = [&](Device d, bool cpu) {
    std::vector<Tensor> v = {leaf(o.x.to(d)), leaf(o.A.to(d)), leaf(o.B.to(d))};
    Tensor w = o.w.to(DType::bf16).to(d), b = o.b.to(d);
    Tensor y;
    {
      AutocastGuard guard(DType::bf16, cpu);
      y = lowrank_linear(v[0], w, b, WeightLayout::in_out, v[0], v[1], v[2], kScale);
    }
    EXPECT_EQ(y.dtype(), DType::bf16);
    sum(to_dtype(y, DType::f32)).backward();
    v.insert(v.begin(), y);
    return v;
  };
  auto g = run(Device::cuda(), false), c = run(Device::cpu(), true);
  cuda_parity::expect_close(g[0], to_dtype(c[0], DType::f64), DType::bf16, "autocast forward");
  for (size_t i = 1; i < g.size(); ++i) {
    EXPECT_EQ(g[i].grad().dtype(), DType::f32) << i;
    cuda_parity::expect_close(g[i].grad(), to_dtype(c[i].grad(), DType::f64), DType::bf16, "autocast grad");
  }
}
