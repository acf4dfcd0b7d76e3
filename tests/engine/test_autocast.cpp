// Mixed precision on the CPU: the autocast scope (graph and gradients through the bf16 casts,
// device scoping, nesting, thread-locality), casting a module's frozen parameters to bf16,
// and the GradScaler (scale/unscale, skip on inf/NaN, the scale schedule) against torch's
// semantics. These run everywhere; the GPU side of autocast is in test_cuda_gemm.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "engine/nn/precision.h"
#include "engine/ops/autocast.h"
#include "engine/optim/grad_scaler.h"

using namespace engine;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed, DType dt = DType::f32) {
  Generator gen(seed);
  return randn(shape, dt, gen).requires_grad_();
}

void expect_equal(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>()) << what;
}

}  // namespace

TEST(Autocast, IsANoOpOnTheCpuUnlessAsked) {
  Tensor x = leaf({3, 5}, 1), w = leaf({4, 5}, 2), b = leaf({4}, 3);
  Tensor plain = linear(x, w, b);
  AutocastGuard guard(DType::bf16);  // GPU-only by default
  EXPECT_FALSE(autocast_dtype(Device::cpu()).has_value());
  EXPECT_EQ(autocast_dtype(Device::cuda()), DType::bf16);
  Tensor y = linear(x, w, b);
  EXPECT_EQ(y.dtype(), DType::f32);
  expect_equal(y, plain, "linear under a GPU-only autocast");
  EXPECT_EQ(matmul(x, w.t()).dtype(), DType::f32);
}

// The graph: f32 leaves get f32 gradients equal to those of the same computation written with
// explicit bf16 casts (to_dtype), which is what autocast must record.
TEST(Autocast, LinearAndMatmulCastToBf16AndF32LeavesGetF32Gradients) {
  Tensor x = leaf({2, 3, 8}, 11), w = leaf({6, 8}, 12), b = leaf({6}, 13), m = leaf({6, 5}, 14);
  Tensor x_ref = x.detach().requires_grad_(), w_ref = w.detach().requires_grad_(), b_ref = b.detach().requires_grad_(),
         m_ref = m.detach().requires_grad_();
  Tensor out;
  {
    AutocastGuard guard(DType::bf16, /*cpu=*/true);
    Tensor h = linear(x, w, b);
    EXPECT_EQ(h.dtype(), DType::bf16);
    out = matmul(h, m);
    EXPECT_EQ(out.dtype(), DType::bf16);
  }
  auto bf = [](const Tensor& t) { return to_dtype(t, DType::bf16); };
  Tensor ref = matmul(linear(bf(x_ref), bf(w_ref), bf(b_ref)), bf(m_ref));
  expect_equal(out, ref, "forward");
  Generator gen(5);
  Tensor g = randn(out.shape(), DType::f32, gen);
  sum(mul(to_dtype(out, DType::f32), g)).backward();
  sum(mul(to_dtype(ref, DType::f32), g)).backward();
  const std::vector<std::tuple<Tensor, Tensor, std::string>> leaves = {
      {x, x_ref, "x"}, {w, w_ref, "w"}, {b, b_ref, "b"}, {m, m_ref, "m"}};
  for (const auto& [got, want, name] : leaves) {
    ASSERT_TRUE(got.grad().defined()) << name;
    EXPECT_EQ(got.grad().dtype(), DType::f32) << name;
    expect_equal(got.grad(), want.grad(), "grad " + name);
  }
  // The gradient really went through bf16: it is not the f32 computation's gradient.
  Tensor w32 = w.detach().requires_grad_();
  sum(mul(matmul(linear(x.detach(), w32, b.detach()), m.detach()), g)).backward();
  EXPECT_NE(w32.grad().to_vector<double>(), w.grad().to_vector<double>());
}

TEST(Autocast, F16AndNoCastForF64OrIntegers) {
  AutocastGuard guard(DType::f16, true);
  Tensor x64 = leaf({2, 3}, 1, DType::f64), w64 = leaf({4, 3}, 2, DType::f64);
  EXPECT_EQ(linear(x64, w64).dtype(), DType::f64);  // f64 is never cast (as torch)
  EXPECT_EQ(linear(leaf({2, 3}, 3), leaf({4, 3}, 4)).dtype(), DType::f16);
  EXPECT_EQ(autocast_half(arange(0, 4, 1, DType::i64)).dtype(), DType::i64);
  EXPECT_EQ(autocast_half(leaf({2}, 5, DType::bf16)).dtype(), DType::f16);
}

TEST(Autocast, GuardsNestRestoreAndAreThreadLocal) {
  EXPECT_FALSE(autocast_dtype(Device::cuda()).has_value());
  {
    AutocastGuard outer(DType::bf16);
    {
      AutocastGuard inner(DType::f16, true);
      EXPECT_EQ(autocast_dtype(Device::cpu()), DType::f16);
      {
        NoAutocastGuard off;
        EXPECT_FALSE(autocast_dtype(Device::cuda()).has_value());
      }
      EXPECT_EQ(autocast_dtype(Device::cuda()), DType::f16);
      bool other_thread_on = true;
      std::thread([&] { other_thread_on = autocast_dtype(Device::cuda()).has_value(); }).join();
      EXPECT_FALSE(other_thread_on);
    }
    EXPECT_EQ(autocast_dtype(Device::cuda()), DType::bf16);
    EXPECT_FALSE(autocast_dtype(Device::cpu()).has_value());
  }
  EXPECT_FALSE(autocast_dtype(Device::cuda()).has_value());
  EXPECT_THROW(AutocastGuard(DType::f32), ValueError);
}

TEST(Autocast, UpcastGivesF32ToOpsThatMustNotRunInHalf) {
  Tensor h = leaf({2, 3}, 1, DType::bf16);
  EXPECT_EQ(autocast_upcast(h).dtype(), DType::bf16);  // autocast off: untouched
  AutocastGuard guard(DType::bf16, true);
  Tensor u = autocast_upcast(h);
  EXPECT_EQ(u.dtype(), DType::f32);
  expect_equal(u, to_dtype(h, DType::f32), "upcast values");
  sum(u).backward();  // differentiable: the gradient converts back
  ASSERT_TRUE(h.grad().defined());
  EXPECT_EQ(h.grad().dtype(), DType::bf16);
}

// Softmax, norms and losses run in f32 under autocast (so a scaled f16 loss cannot overflow),
// and keep their input's dtype outside it.
TEST(Autocast, SoftmaxNormsAndLossesRunInF32) {
  Tensor h = leaf({3, 5}, 1, DType::bf16), w = full({5}, 1.0), t = from_vector<int64_t>({0, 4, 2}, {3});
  EXPECT_EQ(softmax(h, -1).dtype(), DType::bf16);
  EXPECT_EQ(cross_entropy(h, t).dtype(), DType::bf16);
  AutocastGuard guard(DType::bf16, true);
  EXPECT_EQ(softmax(h, -1).dtype(), DType::f32);
  EXPECT_EQ(log_softmax(h, -1).dtype(), DType::f32);
  EXPECT_EQ(layer_norm(h, w, zeros({5})).dtype(), DType::f32);
  EXPECT_EQ(rms_norm(h, w).dtype(), DType::f32);
  Tensor loss = cross_entropy(h, t);
  EXPECT_EQ(loss.dtype(), DType::f32);
  Tensor want;
  {
    NoAutocastGuard off;
    want = cross_entropy(to_dtype(h, DType::f32), t);
  }
  EXPECT_EQ(loss.item<double>(), want.item<double>());
  loss.backward();
  ASSERT_TRUE(h.grad().defined());
  EXPECT_EQ(h.grad().dtype(), DType::bf16);
}

// A frozen weight under autocast: the cast is not recorded, and linear's backward runs dX only.
TEST(Autocast, FrozenWeightStillRunsNoWeightGradientGemm) {
  Tensor x = leaf({4, 8}, 1), w = leaf({6, 8}, 2).detach(), b = leaf({6}, 3);
  AutocastGuard guard(DType::bf16, true);
  Tensor y = linear(x, w, b);
  reset_counters();
  sum(to_dtype(y, DType::f32)).backward();
  Counters c = counters();
  EXPECT_EQ(c.backward_count("linear.dx"), 1);
  EXPECT_EQ(c.backward_count("linear.dw"), 0);
  EXPECT_FALSE(w.grad().defined());
  EXPECT_EQ(x.grad().dtype(), DType::f32);
  EXPECT_EQ(b.grad().dtype(), DType::f32);
}

TEST(Precision, CastFrozenParametersKeepsTrainableOnesInF32) {
  auto lin = std::make_shared<nn::Linear>(8, 6);
  Generator gen(3);
  lin->reset_parameters(gen);
  Tensor w_before = lin->weight().detach().clone(), held = lin->weight();  // `held`: another handle (a tie)
  lin->weight().requires_grad_(false);
  // A frozen tensor listed in `keep` (an adapter tensor that files keep in f32) is not cast.
  EXPECT_EQ(nn::cast_frozen_parameters(*lin, DType::bf16, {held}).tensors, 0);
  EXPECT_EQ(lin->weight().dtype(), DType::f32);
  nn::CastReport r = nn::cast_frozen_parameters(*lin);
  EXPECT_EQ(r.tensors, 1);
  EXPECT_EQ(r.numel, 48);
  EXPECT_EQ(lin->weight().dtype(), DType::bf16);
  EXPECT_EQ(held.dtype(), DType::bf16);  // same tensor object: ties follow
  EXPECT_EQ(lin->bias().dtype(), DType::f32);
  expect_equal(lin->weight(), to_dtype(w_before, DType::bf16), "bf16 values");
  EXPECT_EQ(nn::cast_frozen_parameters(*lin).tensors, 0);  // idempotent
  EXPECT_THROW(nn::cast_frozen_parameters(*lin, DType::f64), ValueError);

  // Training under autocast: the trainable f32 bias gets an f32 gradient, the weight none.
  Tensor x = leaf({3, 8}, 4);
  AutocastGuard guard(DType::bf16, true);
  sum(to_dtype(lin->forward(x), DType::f32)).backward();
  ASSERT_TRUE(lin->bias().grad().defined());
  EXPECT_EQ(lin->bias().grad().dtype(), DType::f32);
  EXPECT_FALSE(lin->weight().grad().defined());
}

namespace {

// One parameter p (f32) with loss = Σ p·c; its gradient is c.
struct Toy {
  Tensor p = full({4}, 1.0).requires_grad_();
  optim::SGD opt{{{"p", p}}, optim::SGDOptions{.lr = 0.5}};
  void backward(optim::GradScaler& s, const std::vector<float>& c) {
    opt.zero_grad();
    s.scale(sum(mul(p, from_vector(c, {int64_t(c.size())})))).backward();
  }
};

}  // namespace

TEST(GradScaler, ScaledStepEqualsTheUnscaledStep) {
  optim::GradScaler scaler({.init_scale = 1024.0});
  Toy t;
  t.backward(scaler, {1, -2, 0.5f, 4});
  EXPECT_EQ(t.p.grad().to_vector<float>(), (std::vector<float>{1024, -2048, 512, 4096}));
  EXPECT_TRUE(scaler.step(t.opt));
  EXPECT_EQ(t.p.grad().to_vector<float>(), (std::vector<float>{1, -2, 0.5f, 4}));  // unscaled in place
  EXPECT_EQ(t.p.to_vector<float>(), (std::vector<float>{0.5f, 2, 0.75f, -1}));     // p − 0.5·c
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 1024.0);
  EXPECT_EQ(scaler.growth_tracker(), 1);
}

TEST(GradScaler, SkipsTheStepAndHalvesTheScaleOnInfOrNan) {
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    optim::GradScaler scaler({.init_scale = 256.0, .growth_interval = 2});
    Toy t;
    t.backward(scaler, {1, 1, 1, 1});
    scaler.step(t.opt);
    scaler.update();
    EXPECT_EQ(scaler.growth_tracker(), 1);
    std::vector<float> before = t.p.to_vector<float>();
    t.backward(scaler, {1, bad, 1, 1});
    EXPECT_FALSE(scaler.step(t.opt));
    EXPECT_TRUE(scaler.found_inf());
    EXPECT_EQ(t.p.to_vector<float>(), before) << "a skipped step must leave the parameter alone";
    EXPECT_EQ(t.opt.step_count(), 1);
    scaler.update();
    EXPECT_EQ(scaler.get_scale(), 128.0);
    EXPECT_EQ(scaler.growth_tracker(), 0);
  }
}

TEST(GradScaler, GrowsEveryIntervalCleanStepsAndChecksItsProtocol) {
  optim::GradScaler scaler({.init_scale = 8.0, .growth_factor = 2.0, .backoff_factor = 0.25, .growth_interval = 3});
  Toy t;
  std::vector<double> scales;
  for (int i = 0; i < 7; ++i) {
    t.backward(scaler, {1, 2, 3, 4});
    scaler.unscale_(t.opt);  // explicit unscale (e.g. before clipping), then step does not unscale again
    EXPECT_THROW(scaler.unscale_(t.opt), ValueError);
    EXPECT_EQ(t.p.grad().to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
    scaler.step(t.opt);
    scaler.update();
    scales.push_back(scaler.get_scale());
  }
  EXPECT_EQ(scales, (std::vector<double>{8, 8, 16, 16, 16, 32, 32}));
  EXPECT_THROW(scaler.update(), ValueError);  // no step since the last update
  scaler.update(3.0);
  EXPECT_EQ(scaler.get_scale(), 3.0);
  t.backward(scaler, {std::numeric_limits<float>::infinity(), 0, 0, 0});
  scaler.step(t.opt);
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 0.75);  // backoff 0.25
  EXPECT_THROW(optim::GradScaler({.growth_factor = 1.0}), ValueError);
}

TEST(GradScaler, DisabledIsATransparentWrapperAndHalfGradientsAreRefused) {
  optim::GradScaler off({.enabled = false});
  Toy t;
  t.backward(off, {1, 1, 1, 1});
  EXPECT_EQ(t.p.grad().to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
  EXPECT_TRUE(off.step(t.opt));
  off.update();
  EXPECT_EQ(off.get_scale(), 1.0);

  Tensor h = full({2}, 1.0, DType::f16).requires_grad_();
  optim::SGD opt({{"h", h}});
  optim::GradScaler scaler;
  scaler.scale(sum(h)).backward();
  EXPECT_THROW(scaler.step(opt), ValueError);
  // A half loss is scaled in f32: 65536 · 2 would overflow f16.
  Tensor l = scaler.scale(full({}, 2.0, DType::f16));
  EXPECT_EQ(l.dtype(), DType::f32);
  EXPECT_EQ(l.item<double>(), 131072.0);
}
