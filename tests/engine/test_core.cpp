// Tensor core: views share storage, contiguous() copies only when needed, dtype conversion,
// Philox randomness, broadcasting arithmetic and its gradients.
#include <gtest/gtest.h>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"

using namespace engine;

TEST(Core, ViewsShareStorage) {
  Tensor a = arange(0, 24, 1, DType::f32).reshape({2, 3, 4});
  Tensor t = a.transpose(0, 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.storage(), a.storage());
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  EXPECT_NE(c.storage(), a.storage());
  EXPECT_EQ(a.contiguous().storage(), a.storage());
  EXPECT_FLOAT_EQ(t.to_vector<float>()[1], 12.0f);  // t[0,0,1] = a[1,0,0]
  Tensor n = a.narrow(2, 1, 2);
  EXPECT_EQ(n.to_vector<float>()[0], 1.0f);
  EXPECT_EQ(a.select(1, 2).to_vector<float>()[0], 8.0f);
  EXPECT_EQ(a.unsqueeze(0).shape(), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(a.reshape({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_THROW(t.view({24}), ShapeError);
  EXPECT_EQ(t.reshape({24}).numel(), 24);
}

TEST(Core, ExpandBroadcastsWithoutCopy) {
  Tensor a = from_vector({1.f, 2.f, 3.f}, {3, 1});
  Tensor e = a.expand({2, 3, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.contiguous().to_vector<float>()[4], 2.0f);
}

TEST(Core, DTypeConversions) {
  Tensor a = from_vector({1.5f, -2.25f, 65504.f, 1e-6f}, {4});
  auto h = a.to(DType::f16).to(DType::f32).to_vector<float>();
  EXPECT_EQ(h[0], 1.5f);
  EXPECT_EQ(h[2], 65504.f);
  EXPECT_NEAR(h[3], 1e-6f, 1e-7f);
  auto b = a.to(DType::bf16).to(DType::f32).to_vector<float>();
  EXPECT_EQ(b[1], -2.25f);
  EXPECT_EQ(a.to(DType::i64).to_vector<int64_t>()[1], -2);
}

TEST(Core, RandomIsSeededAndCounterBased) {
  Generator g1(7), g2(7);
  auto a = randn({1000}, DType::f32, g1).to_vector<float>();
  auto b = randn({1000}, DType::f32, g2).to_vector<float>();
  EXPECT_EQ(a, b);
  double mean = 0;
  for (float v : a) mean += v;
  EXPECT_NEAR(mean / 1000, 0.0, 0.1);
  auto c = randn({1000}, DType::f32, g1).to_vector<float>();  // the stream advances
  EXPECT_NE(a, c);
}

TEST(Core, BroadcastArithmetic) {
  Tensor a = from_vector({1.f, 2.f, 3.f}, {3, 1});
  Tensor b = from_vector({10.f, 20.f}, {2});
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{11, 21, 12, 22, 13, 23}));
  EXPECT_THROW(add(from_vector({1.f, 2.f}, {2}), from_vector({1.f, 2.f, 3.f}, {3})), ShapeError);
}

TEST(Gradcheck, BinaryOpsWithBroadcastAndViews) {
  Generator gen(3);
  Tensor base = randn({4, 3}, DType::f64, gen);
  Tensor a = base.t().detach().requires_grad_();  // non-contiguous leaf [3,4]
  Tensor b = (randn({4}, DType::f64, gen) + 3.0).detach().requires_grad_();
  for (auto op : std::vector<std::function<Tensor(const Tensor&, const Tensor&)>>{
           [](auto& x, auto& y) { return x + y; }, [](auto& x, auto& y) { return x - y; },
           [](auto& x, auto& y) { return x * y; }, [](auto& x, auto& y) { return x / y; },
           [](auto& x, auto& y) { return maximum(x, y); }, [](auto& x, auto& y) { return minimum(x, y); },
           [](auto& x, auto& y) { return pow(abs(x) + 0.5, y); },
           [](auto& x, auto& y) { return where(gt(x, 0.0), x, y); }}) {
    auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b});
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(Gradcheck, UnaryOps) {
  Generator gen(5);
  Tensor x = (randn({2, 5}, DType::f64, gen) * 0.8).detach().requires_grad_();
  Tensor pos = (rand({2, 5}, DType::f64, gen) + 0.5).detach().requires_grad_();
  for (auto f : {neg, exp, tanh, sigmoid, gelu, gelu_tanh, silu, square, abs, relu}) {
    auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {x});
    EXPECT_TRUE(r.ok) << r.message;
  }
  for (auto f : {log, sqrt, rsqrt}) {
    auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {pos});
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(Autograd, FrozenInputsStayOffTheTape) {
  Tensor w = ones({3});  // frozen
  Tensor x = ones({3});
  reset_counters();
  Tensor y = w * x;
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_EQ(counters().nodes_recorded, 0);
  EXPECT_EQ(counters().bytes_saved, 0);
}

TEST(Autograd, OnlyNeededGradientsAreComputedAndSaved) {
  Tensor w = full({1000}, 2.0).requires_grad_();
  Tensor x = full({1000}, 3.0);  // frozen activation-like input
  reset_counters();
  Tensor y = mul(w, x);
  // d/dw needs x (saved); d/dx would need w, which is not saved.
  EXPECT_EQ(counters().bytes_saved, 4000);
  y.backward(ones({1000}));
  EXPECT_EQ(w.grad().to_vector<float>()[0], 3.0f);
  EXPECT_EQ(counters().backward_count("mul"), 1);  // one gradient product, not two
  EXPECT_THROW(y.backward(ones({1000})), AutogradError);  // graph freed
}

TEST(Autograd, GradientsAccumulateAcrossUses) {
  Tensor a = from_vector({2.f}, {1}).requires_grad_();
  Tensor y = a * a + a;  // dy/da = 2a + 1 = 5
  y.backward(ones({1}));
  EXPECT_FLOAT_EQ(a.grad().item<float>(), 5.0f);
}

TEST(Autograd, ElementMaskKeepsCompactGradient) {
  Tensor w = ones({2, 3}).requires_grad_();
  set_element_mask(w, from_vector(std::vector<bool>{true, false, false, false, false, true}, {2, 3}));
  Tensor y = w * from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  y.backward(ones({2, 3}));
  EXPECT_EQ(w.grad().shape(), (Shape{2}));
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1.f, 6.f}));
}
