// nn layers: forward values computed by hand, gradients gradchecked in f64 through the
// module (the module's own parameters are the checked inputs), init statistics, activations.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/nn/layers.h"

using namespace engine;
using namespace engine::nn;
using autograd::gradcheck;

namespace {

// Gradchecks module.forward(x) with respect to x and every parameter of the module.
void expect_module_gradcheck(UnaryModule& m, const Tensor& x) {
  std::vector<Tensor> inputs{x};
  for (auto& [n, t] : m.named_parameters()) inputs.push_back(t);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return m.forward(in[0]); }, inputs);
  EXPECT_TRUE(r.ok) << m.type_name() << ": " << r.message;
}

Tensor f64_leaf(const std::vector<double>& v, const Shape& s) {
  return from_vector(v, s).requires_grad_();
}

}  // namespace

TEST(NnLayers, LinearBothLayoutsByHand) {
  // y = x W^T + b with W [2,3] (torch) and the same map stored [3,2] (Conv1D).
  Linear a(3, 2), c(3, 2, true, WeightLayout::in_out);
  EXPECT_EQ(a.weight().shape(), (Shape{2, 3}));
  EXPECT_EQ(c.weight().shape(), (Shape{3, 2}));
  EXPECT_EQ(a.type_name(), "Linear");
  EXPECT_EQ(c.type_name(), "Conv1D");
  copy_(a.weight(), from_vector({1.f, 2.f, 3.f, -1.f, 0.f, 1.f}, {2, 3}));
  copy_(c.weight(), a.weight().t());
  copy_(a.bias(), from_vector({0.5f, -0.5f}, {2}));
  copy_(c.bias(), a.bias());
  Tensor x = from_vector({1.f, 1.f, 1.f, 2.f, 0.f, -1.f}, {2, 3});
  std::vector<float> expected = {6.5f, -0.5f, -0.5f, -3.5f};
  EXPECT_EQ(a.forward(x).to_vector<float>(), expected);
  EXPECT_EQ(c.forward(x).to_vector<float>(), expected);
  Linear nb(3, 2, false);
  EXPECT_FALSE(nb.bias().defined());
  EXPECT_EQ(nb.named_parameters().size(), 1u);
}

TEST(NnLayers, LinearGradcheck) {
  Generator gen(5);
  for (WeightLayout layout : {WeightLayout::out_in, WeightLayout::in_out}) {
    Linear m(4, 3, true, layout, DType::f64);
    m.reset_parameters(gen);
    expect_module_gradcheck(m, randn({2, 5, 4}, DType::f64, gen).requires_grad_());
  }
}

TEST(NnLayers, LinearDefaultInitBounds) {
  Generator gen(9);
  Linear m(64, 256);
  m.reset_parameters(gen);
  const double bound = 1.0 / 8.0;  // 1/sqrt(in)
  auto w = m.weight().to_vector<float>();
  double mx = 0, mean = 0, sq = 0;
  for (float v : w) mx = std::max(mx, double(std::abs(v))), mean += v, sq += double(v) * v;
  mean /= double(w.size());
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.95 * bound);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(sq / double(w.size()), bound * bound / 3, 0.1 * bound * bound / 3);  // U(-b,b) variance
  for (float v : m.bias().to_vector<float>()) EXPECT_LE(std::abs(v), bound);
  Generator again(9);
  Linear m2(64, 256);
  m2.reset_parameters(again);
  EXPECT_EQ(m2.weight().to_vector<float>(), w);  // reproducible from the seed
}

TEST(NnLayers, EmbeddingLookupPaddingAndGrad) {
  Embedding e(4, 2, /*padding_idx=*/0, DType::f64);
  Generator gen(2);
  e.reset_parameters(gen);
  EXPECT_EQ(e.weight().select(0, 0).to_vector<double>(), (std::vector<double>{0.0, 0.0}));
  Tensor ids = from_vector(std::vector<int64_t>{3, 0, 3, 1}, {2, 2});
  Tensor y = e.forward(ids);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 2}));
  auto w = e.weight().to_vector<double>(), v = y.to_vector<double>();
  EXPECT_EQ(v[0], w[6]);
  EXPECT_EQ(v[7], w[3]);
  sum(y).backward();
  // Row 3 is used twice, row 1 once, the padding row gets no gradient.
  EXPECT_EQ(e.weight().grad().to_vector<double>(), (std::vector<double>{0, 0, 1, 1, 0, 0, 2, 2}));
}

TEST(NnLayers, LayerNormByHandAndGradcheck) {
  LayerNorm ln(4, 1e-5, true, DType::f64);
  copy_(ln.param("weight"), from_vector(std::vector<double>{1, 2, 1, 0.5}, {4}));
  copy_(ln.param("bias"), from_vector(std::vector<double>{0, 1, 0, -1}, {4}));
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {1, 4});
  // mean 2.5, biased var 1.25
  const double r = 1.0 / std::sqrt(1.25 + 1e-5);
  std::vector<double> expected = {-1.5 * r, 2 * -0.5 * r + 1, 0.5 * r, 0.5 * 1.5 * r - 1};
  auto y = ln.forward(x).to_vector<double>();
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y[i], expected[i], 1e-12);
  Generator gen(4);
  copy_(ln.param("weight"), randn({4}, DType::f64, gen));
  expect_module_gradcheck(ln, randn({3, 4}, DType::f64, gen).requires_grad_());
  LayerNorm plain(4, 1e-5, false);
  EXPECT_TRUE(plain.named_parameters().empty());
  EXPECT_THROW(plain.forward(ones({2, 3})), ShapeError);
}

TEST(NnLayers, RMSNormByHandAndGradcheck) {
  RMSNorm n(2, 1e-6, DType::f64);
  copy_(n.param("weight"), from_vector(std::vector<double>{2, 1}, {2}));
  auto y = n.forward(from_vector(std::vector<double>{3, 4}, {1, 2})).to_vector<double>();
  const double r = 1.0 / std::sqrt(12.5 + 1e-6);  // mean(x^2) = 12.5, no mean subtraction
  EXPECT_NEAR(y[0], 2 * 3 * r, 1e-12);
  EXPECT_NEAR(y[1], 4 * r, 1e-12);
  Generator gen(6);
  RMSNorm m(5, 1e-6, DType::f64);
  copy_(m.param("weight"), randn({5}, DType::f64, gen));
  expect_module_gradcheck(m, randn({2, 3, 5}, DType::f64, gen).requires_grad_());
}

TEST(NnLayers, DropoutIsSeededAndScaled) {
  Dropout a(0.25, 42), b(0.25, 42);
  Tensor x = ones({1000});
  auto ya = a.forward(x).to_vector<float>(), yb = b.forward(x).to_vector<float>();
  EXPECT_EQ(ya, yb);
  int kept = 0;
  for (float v : ya) {
    EXPECT_TRUE(v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f) << v;
    kept += v != 0.0f;
  }
  EXPECT_NEAR(kept / 1000.0, 0.75, 0.05);
  EXPECT_NE(a.forward(x).to_vector<float>(), ya);  // the stream advances
  a.eval();
  EXPECT_TRUE(a.forward(x).is_same(x));
  EXPECT_THROW(Dropout(1.5), ValueError);
}

TEST(NnLayers, ActivationsByHfName) {
  Tensor x = from_vector(std::vector<double>{-2.0, -0.5, 0.0, 0.7, 3.0}, {5});
  auto xs = x.to_vector<double>();
  auto check = [&](const std::string& name, auto ref) {
    auto y = activation(name, x).to_vector<double>();
    for (size_t i = 0; i < xs.size(); ++i) EXPECT_NEAR(y[i], ref(xs[i]), 1e-10) << name << " at " << xs[i];
  };
  auto tanh_gelu = [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
  };
  check("gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  for (const char* n : {"gelu_new", "gelu_pytorch_tanh", "gelu_accurate"}) check(n, tanh_gelu);
  check("gelu_fast", [](double v) { return 0.5 * v * (1 + std::tanh(v * 0.7978845608 * (1 + 0.044715 * v * v))); });
  check("quick_gelu", [](double v) { return v / (1 + std::exp(-1.702 * v)); });
  check("relu", [](double v) { return std::max(v, 0.0); });
  check("relu6", [](double v) { return std::clamp(v, 0.0, 6.0); });
  check("silu", [](double v) { return v / (1 + std::exp(-v)); });
  check("swish", [](double v) { return v / (1 + std::exp(-v)); });
  check("sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); });
  check("tanh", [](double v) { return std::tanh(v); });
  check("linear", [](double v) { return v; });
  try {
    activation("gelu_magic", x);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("gelu_magic"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("quick_gelu"), std::string::npos);  // lists the known
  }
  Tensor leaf = f64_leaf({-1.3, -0.2, 0.4, 1.1}, {4});
  for (const char* n : {"gelu", "gelu_new", "quick_gelu", "silu", "tanh", "relu2"}) {
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return activation(n, in[0]); }, {leaf});
    EXPECT_TRUE(r.ok) << n << ": " << r.message;
  }
}
