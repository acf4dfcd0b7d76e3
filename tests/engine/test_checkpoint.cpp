// Gradient checkpointing: the same gradients (inputs and parameters) as the plain graph for
// a 2-layer MLP with dropout — the recompute replays the same masks — with fewer bytes saved
// for backward; the generator ends where it would have without checkpointing; parameters
// inside a checkpoint over frozen inputs still train when listed.
#include <gtest/gtest.h>

#include "engine/autograd/checkpoint.h"
#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/ops/indexing.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"

using namespace engine;

namespace {
struct Mlp {
  Tensor w1, b1, w2, b2;
  Generator* gen;
  // x [B, In] -> dropout(gelu(x W1^T + b1)) W2^T + b2 -> dropout -> [B, Out]
  Tensor operator()(const Tensor& x) const {
    Tensor h = dropout(gelu(linear(x, w1, b1)), 0.3, true, *gen);  // [B, H]
    return dropout(linear(h, w2, b2), 0.2, true, *gen);             // [B, Out]
  }
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
};

Mlp make_mlp(Generator& init, Generator& drop, DType dt) {
  auto p = [&](Shape s) { return (randn(s, dt, init) * 0.5).detach().requires_grad_(); };
  return {p({32, 16}), p({32}), p({8, 32}), p({8}), &drop};
}

std::vector<float> flat(const Tensor& t) { return t.to(DType::f32).to_vector<float>(); }
}  // namespace

TEST(Checkpoint, SameGradientsAsThePlainGraphWithFewerSavedBytes) {
  Generator init(1), drop(42);
  Mlp mlp = make_mlp(init, drop, DType::f32);
  Tensor x0 = randn({64, 16}, DType::f32, init);

  auto run = [&](bool ckpt, int64_t& saved) {
    drop.set_state(42, 0);
    for (Tensor p : mlp.params()) p.zero_grad();
    Tensor x = x0.detach().requires_grad_();
    reset_counters();
    Tensor y = ckpt ? checkpoint([&](const std::vector<Tensor>& in) { return mlp(in[0]); }, {x},
                                 {mlp.params(), {&drop}})
                    : mlp(x);
    saved = counters().bytes_saved;
    sum(y * y).backward();
    EXPECT_EQ(drop.offset(), uint64_t(64 * 32 + 64 * 8));  // the recompute left it untouched
    std::vector<std::vector<float>> grads{flat(x.grad())};
    for (Tensor p : mlp.params()) grads.push_back(flat(p.grad()));
    return grads;
  };
  int64_t saved_plain = 0, saved_ckpt = 0;
  auto plain = run(false, saved_plain);
  auto ckpt = run(true, saved_ckpt);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(plain[i], ckpt[i]) << "gradient " << i;
  EXPECT_LT(saved_ckpt, saved_plain / 2) << saved_ckpt << " vs " << saved_plain;
}

TEST(Checkpoint, Gradcheck) {
  Generator init(2), drop(7);
  Mlp mlp = make_mlp(init, drop, DType::f64);
  Tensor x = randn({16, 5}, DType::f64, init).t().detach().requires_grad_();  // [5,16]
  auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) {
    drop.set_state(7, 0);  // every evaluation draws the same masks
    return checkpoint([&](const std::vector<Tensor>& a) { return mlp(a[0]); }, {in[0]}, {{}, {&drop}});
  }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Checkpoint, ParametersTrainBehindFrozenInputsWhenListed) {
  Generator init(3), drop(5);
  Mlp mlp = make_mlp(init, drop, DType::f32);
  Tensor x = randn({4, 16}, DType::f32, init);  // frozen: needs no gradient
  auto fn = [&](const std::vector<Tensor>& in) { return mlp(in[0]); };
  EXPECT_FALSE(checkpoint(fn, {x}, {{}, {&drop}}).requires_grad());  // nothing says it trains
  Tensor y = checkpoint(fn, {x}, {mlp.params(), {&drop}});
  ASSERT_TRUE(y.requires_grad());
  sum(y).backward();
  for (Tensor p : mlp.params()) EXPECT_TRUE(p.grad().defined());
}

TEST(Checkpoint, NoGraphWhenGradIsOff) {
  Generator init(4), drop(5);
  Mlp mlp = make_mlp(init, drop, DType::f32);
  NoGradGuard no_grad;
  reset_counters();
  Tensor y = checkpoint([&](const std::vector<Tensor>& in) { return mlp(in[0]); },
                        {randn({2, 16}, DType::f32, init)}, {mlp.params(), {&drop}});
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(counters().nodes_recorded, 0);
}

// Under autocast the recompute in backward must cast as the forward did (bf16 GEMMs, f32
// master weights): the gradients equal the plain graph's bit for bit. Without replaying the
// autocast state the recompute ran the GEMMs in f32 and the gradients differed.
TEST(Checkpoint, RecomputeReplaysTheForwardsAutocast) {
  Generator init(3), drop(7);
  Mlp mlp = make_mlp(init, drop, DType::f32);
  Tensor x0 = randn({24, 16}, DType::f32, init);
  auto run = [&](bool ckpt) {
    drop.set_state(7, 0);
    for (Tensor p : mlp.params()) p.zero_grad();
    Tensor x = x0.detach().requires_grad_();
    Tensor y;
    {
      AutocastGuard bf16(DType::bf16, /*cpu=*/true);
      y = ckpt ? checkpoint([&](const std::vector<Tensor>& in) { return mlp(in[0]); }, {x}, {mlp.params(), {&drop}})
               : mlp(x);
    }
    EXPECT_EQ(y.dtype(), DType::bf16);
    sum(to_dtype(y, DType::f32)).backward();
    std::vector<std::vector<float>> grads{flat(x.grad())};
    for (Tensor p : mlp.params()) grads.push_back(flat(p.grad()));
    return grads;
  };
  const auto plain = run(false), ckpt = run(true);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(plain[i], ckpt[i]) << "gradient " << i;
  EXPECT_FALSE(autocast_dtype(Device::cpu()).has_value());  // the replay left no state behind
}
