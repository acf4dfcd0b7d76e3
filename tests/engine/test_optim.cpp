// Optimizers and schedules: AdamW and SGD against closed-form steps and torch trajectories,
// HF schedules at chosen steps, torch's clip_grad_norm_, accumulation helpers, decay filters.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/engine.h"
#include "engine/nn/layers.h"
#include "engine/optim/adamw.h"
#include "engine/optim/grad_utils.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"

using namespace engine;
using namespace engine::optim;

namespace {

NamedTensors one(const std::string& name, const Tensor& t) { return {{name, t}}; }

// Runs `steps` updates with grad = p * c (computed in float, as the torch script does).
template <typename Opt>
std::vector<float> trajectory(Opt make, int steps) {
  Tensor p = from_vector({1.0f, -2.0f, 0.5f, 3.0f}, {4}).requires_grad_();
  Tensor c = from_vector({0.5f, 1.5f, -2.0f, 0.25f}, {4});
  auto opt = make(one("p", p));
  for (int i = 0; i < steps; ++i) {
    p.set_grad(mul(p.detach(), c));
    opt.step();
  }
  return p.to_vector<float>();
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * std::abs(want[i])) << i;
}

}  // namespace

TEST(Optim, AdamWFirstTwoStepsOnAScalarByHand) {
  Tensor p = from_vector(std::vector<double>{1.0}, {1}).requires_grad_();
  AdamW opt(one("w", p), {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01});
  // step 1, g = 0.5: decay, then m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25.
  p.set_grad(from_vector(std::vector<double>{0.5}, {1}));
  opt.step();
  double p1 = 1.0 * (1 - 0.1 * 0.01) - (0.1 / 0.1) * 0.05 / (std::sqrt(0.00025) / std::sqrt(0.001) + 1e-8);
  EXPECT_DOUBLE_EQ(p.item<double>(), p1);
  // step 2, g = -0.25: m = 0.045 - 0.025 = 0.02, v = 0.00025·0.999 + 0.001·0.0625.
  p.set_grad(from_vector(std::vector<double>{-0.25}, {1}));
  opt.step();
  double m = 0.9 * 0.05 + 0.1 * -0.25, v = 0.999 * 0.00025 + 0.001 * 0.0625;
  double bc1 = 1 - 0.9 * 0.9, bc2 = 1 - 0.999 * 0.999;
  double p2 = p1 * (1 - 0.1 * 0.01) - (0.1 / bc1) * m / (std::sqrt(v) / std::sqrt(bc2) + 1e-8);
  EXPECT_NEAR(p.item<double>(), p2, 1e-15);
  EXPECT_EQ(opt.params()[0].step, 2);
  EXPECT_NEAR(opt.params()[0].state[0].item<double>(), m, 1e-17);
}

TEST(Optim, SgdMomentumAndNesterovByHand) {
  // grad = p (loss p²/2), lr 0.1, momentum 0.9, dampening 0.5, p0 = 1.
  Tensor p = from_vector(std::vector<double>{1.0}, {1}).requires_grad_();
  SGD opt(one("w", p), {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  p.set_grad(p.detach().clone());
  opt.step();  // buf = 1 (no dampening on the first step), p = 0.9
  EXPECT_DOUBLE_EQ(p.item<double>(), 0.9);
  p.set_grad(p.detach().clone());
  opt.step();  // buf = 0.9 + 0.5·0.9 = 1.35, p = 0.9 - 0.135
  EXPECT_DOUBLE_EQ(p.item<double>(), 0.9 - 0.1 * 1.35);

  Tensor q = from_vector(std::vector<double>{1.0}, {1}).requires_grad_();
  SGD nes(one("w", q), {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true});
  q.set_grad(from_vector(std::vector<double>{2.0}, {1}));
  nes.step();  // d = 2 + 0.1 = 2.1, buf = 2.1, d = 2.1 + 0.9·2.1 = 3.99
  EXPECT_DOUBLE_EQ(q.item<double>(), 1.0 - 0.1 * 3.99);
  EXPECT_THROW(SGD(one("w", q), {.lr = 0.1, .momentum = 0, .nesterov = true}), ValueError);
}

// Reference trajectories from torch 1.13 (/usr/bin/python3), five steps each:
//   import torch
//   def run(opt_fn, steps=5):
//       p = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float32, requires_grad=True)
//       c = torch.tensor([0.5, 1.5, -2.0, 0.25], dtype=torch.float32)
//       opt = opt_fn([p])
//       for _ in range(steps):
//           p.grad = (p.detach() * c)
//           opt.step()
//       return [float(x) for x in p.detach()]
//   run(lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))
//   run(lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True))
//   run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01))
//   run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01))
TEST(Optim, TrajectoriesMatchTorch) {
  expect_close(trajectory([](NamedTensors ps) {
                 return AdamW(ps, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01});
               }, 5),
               {0.5040801763534546, -1.4940457344055176, 0.9982641935348511, 2.4878692626953125}, 2e-6);
  expect_close(trajectory([](NamedTensors ps) {
                 return AdamW(ps, {.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1,
                                   .amsgrad = true});
               }, 5),
               {0.475530743598938, -1.4183995723724365, 0.973721444606781, 2.3672757148742676}, 2e-6);
  expect_close(trajectory([](NamedTensors ps) {
                 return SGD(ps, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
               }, 5),
               {0.44250190258026123, 0.6135008931159973, 2.330415725708008, 2.09835147857666}, 2e-6);
  expect_close(trajectory([](NamedTensors ps) {
                 return SGD(ps, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
               }, 5),
               {0.3051952123641968, 0.6649386882781982, 4.058060169219971, 1.8202836513519287}, 2e-6);
}

TEST(Optim, OnlyTrainableParametersWithGradientsMove) {
  Tensor frozen = ones({3});
  Tensor a = ones({3}).requires_grad_(), b = ones({2}).requires_grad_();
  AdamW opt({{"frozen", frozen}, {"a", a}, {"b", b}}, {.lr = 0.1});
  ASSERT_EQ(opt.params().size(), 2u);  // the trainable set only
  EXPECT_EQ(opt.state_numel(), 2 * 5);
  a.set_grad(ones({3}));
  opt.step();  // b has no gradient: skipped, as torch does
  EXPECT_EQ(b.to_vector<float>(), std::vector<float>(2, 1.0f));
  EXPECT_LT(a.to_vector<float>()[0], 1.0f);
  EXPECT_EQ(opt.params()[1].step, 0);
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  a.set_grad(ones({2}));
  EXPECT_THROW(opt.step(), ShapeError);
}

TEST(Optim, HfDecayFilterSkipsBiasesAndNorms) {
  struct Net : nn::Module {
    Net() {
      register_module("dense", std::make_shared<nn::Linear>(2, 2));
      register_module("LayerNorm", std::make_shared<nn::LayerNorm>(2));
      register_parameter("relative_attention_bias", zeros({2}));
    }
    std::string type_name() const override { return "Net"; }
  } net;
  DecayFilter f = hf_decay_filter(net);
  EXPECT_TRUE(f("dense.weight"));
  EXPECT_FALSE(f("dense.bias"));
  EXPECT_FALSE(f("LayerNorm.weight"));
  EXPECT_FALSE(f("relative_attention_bias"));
  // A parameter without decay moves by the Adam step alone: with g = 0 it stays put.
  AdamW opt(net.named_parameters(), {.lr = 0.1, .weight_decay = 0.5}, f);
  fill_(net.get("dense")->param("weight"), 1.0);
  fill_(net.get("LayerNorm")->param("weight"), 1.0);
  for (auto& [n, t] : net.named_parameters()) t.set_grad(zeros(t.shape()));
  opt.step();
  EXPECT_FLOAT_EQ(net.get("dense")->param("weight").to_vector<float>()[0], 0.95f);
  EXPECT_EQ(net.get("LayerNorm")->param("weight").to_vector<float>()[0], 1.0f);
}

TEST(Optim, SchedulesFollowHf) {
  Schedule lin = make_schedule("linear", 1.0, 10, 110);
  EXPECT_EQ(lin.lr(0), 0.0);  // HF: the first step of a warmup runs at lr 0
  EXPECT_DOUBLE_EQ(lin.lr(5), 0.5);
  EXPECT_DOUBLE_EQ(lin.lr(10), 1.0);
  EXPECT_DOUBLE_EQ(lin.lr(60), 0.5);
  EXPECT_DOUBLE_EQ(lin.lr(110), 0.0);
  EXPECT_DOUBLE_EQ(lin.lr(200), 0.0);
  Schedule cos = make_schedule("cosine", 2.0, 10, 110);
  EXPECT_DOUBLE_EQ(cos.lr(3), 0.6);
  EXPECT_DOUBLE_EQ(cos.lr(10), 2.0);
  EXPECT_NEAR(cos.lr(35), 2.0 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-15);
  EXPECT_NEAR(cos.lr(60), 1.0, 1e-15);
  EXPECT_NEAR(cos.lr(110), 0.0, 1e-15);
  Schedule cw = make_schedule("constant_with_warmup", 1.0, 4, 0);
  EXPECT_DOUBLE_EQ(cw.lr(1), 0.25);
  EXPECT_DOUBLE_EQ(cw.lr(1000), 1.0);
  EXPECT_EQ(make_schedule("constant", 3.0, 4, 10).lr(0), 3.0);
  EXPECT_DOUBLE_EQ(make_schedule("linear", 1.0, 0, 4).lr(1), 0.75);  // no warmup
  EXPECT_THROW(make_schedule("polynomial_magic", 1.0, 0, 1), ConfigError);
}

TEST(Optim, ClipGradNormLikeTorch) {
  Tensor a = zeros({2}).requires_grad_(), b = zeros({1}).requires_grad_(), c = zeros({1}).requires_grad_();
  a.set_grad(from_vector({3.0f, 0.0f}, {2}));
  b.set_grad(from_vector({4.0f}, {1}));  // c has none: ignored
  double norm = clip_grad_norm_({a, b, c}, 1.0);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  const float coef = float(1.0 / (5.0 + 1e-6));
  EXPECT_FLOAT_EQ(a.grad().to_vector<float>()[0], 3.0f * coef);
  EXPECT_FLOAT_EQ(b.grad().to_vector<float>()[0], 4.0f * coef);
  EXPECT_NEAR(grad_norm({a, b}), 1.0, 1e-6);
  EXPECT_NEAR(clip_grad_norm_({a, b}, 10.0), 1.0, 1e-6);  // below max: unchanged
  EXPECT_FLOAT_EQ(a.grad().to_vector<float>()[0], 3.0f * coef);
  a.set_grad(from_vector({-7.0f, 2.0f}, {2}));
  EXPECT_DOUBLE_EQ(grad_norm({a, b}, INFINITY), 7.0);
  EXPECT_NEAR(grad_norm({a}, 1.0), 9.0, 1e-12);
  // A large gradient: the fixed-chunk sum equals the closed form.
  Tensor big = zeros({100000}).requires_grad_();
  big.set_grad(full({100000}, 0.5));
  EXPECT_NEAR(grad_norm({big}), std::sqrt(100000 * 0.25), 1e-9);
}

TEST(Optim, AccumulationHelpers) {
  Tensor a = zeros({2}).requires_grad_();
  for (int micro = 0; micro < 4; ++micro) sum(mul(a, from_vector({1.0f, 2.0f}, {2}))).backward();
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{4.0f, 8.0f}));  // gradients add up
  scale_grads_({a}, 0.25);
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1.0f, 2.0f}));
  zero_grads({a});
  EXPECT_FALSE(a.grad().defined());
}

TEST(Optim, HalfPrecisionParametersUpdateThroughFloatState) {
  Tensor p = full({3}, 1.0, DType::bf16).requires_grad_();
  AdamW opt(one("p", p), {.lr = 0.125, .weight_decay = 0.0});
  EXPECT_EQ(opt.params()[0].state[0].dtype(), DType::f32);
  p.set_grad(full({3}, 2.0, DType::bf16));
  opt.step();  // the first Adam step moves by lr·sign(g)
  EXPECT_EQ(p.to(DType::f32).to_vector<float>(), std::vector<float>(3, 0.875f));
}
