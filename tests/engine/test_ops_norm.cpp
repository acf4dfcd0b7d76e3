// softmax / log_softmax / layer_norm / rms_norm ops: values against torch, f64 gradchecks
// over every dim and on strided inputs, and frozen parameters costing no gradient work.
#include <cmath>

#include <gtest/gtest.h>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/ops/normalization.h"
#include "engine/ops/reduce.h"

using namespace engine;

namespace {

void expect_values(const Tensor& t, const std::vector<double>& want, double tol) {
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << i;
}

TEST(OpsNorm, SoftmaxValuesMatchTorch) {
  Tensor x = from_vector({1.f, 2.f, 3.f, 1000.f, 0.f, -1000.f}, {2, 3});
  expect_values(softmax(x, 1), {0.09003057, 0.24472847, 0.66524096, 1, 0, 0}, 1e-7);
  // Over dim 0: columns (1, 1000), (2, 0), (3, -1000).
  expect_values(log_softmax(x, 0), {-999, -0.12692801, 0, 0, -2.12692801, -1003}, 1e-4);
}

TEST(OpsNorm, SoftmaxGradcheckEveryDimAndStrided) {
  Generator gen(1);
  Tensor base = randn({3, 4, 5}, DType::f64, gen);
  for (bool log : {false, true}) {
    for (int64_t dim : {0, 1, 2, -1}) {
      Tensor dense = base.detach().requires_grad_();
      Tensor strided = base.transpose(0, 2).detach().requires_grad_();  // [5,4,3] view
      for (const Tensor& x : {dense, strided}) {
        auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) {
          return log ? log_softmax(in[0], dim) : softmax(in[0], dim);
        }, {x});
        EXPECT_TRUE(r.ok) << (log ? "log_softmax" : "softmax") << " dim " << dim << ": " << r.message;
      }
    }
  }
}

TEST(OpsNorm, LayerNormValuesMatchTorch) {
  Tensor x = from_vector({1.f, 2.f, 4.f, 0.f, -1.f, 3.f}, {2, 3});
  Tensor w = from_vector({1.f, 2.f, 0.5f}, {3}), b = from_vector({0.f, 1.f, -1.f}, {3});
  expect_values(layer_norm(x, w, b, 1e-5), {-1.0690, 0.4655, -0.3318, -0.3922, -0.9612, -0.3136}, 1e-4);
}

TEST(OpsNorm, RmsNormValues) {
  Tensor x = from_vector({3.f, 4.f}, {1, 2});  // mean(x²) = 12.5
  Tensor w = from_vector({2.f, 1.f}, {2});
  const double r = 1 / std::sqrt(12.5 + 1e-6);
  expect_values(rms_norm(x, w, 1e-6), {6 * r, 4 * r}, 1e-6);
}

TEST(OpsNorm, NormGradchecksIncludingStridedAndAffineCombinations) {
  Generator gen(2);
  Tensor xb = randn({5, 4}, DType::f64, gen) * 2.0 + 1.0;
  Tensor wb = rand({4}, DType::f64, gen) + 0.5, bb = randn({4}, DType::f64, gen);
  Tensor strided = randn({4, 5}, DType::f64, gen).t().detach().requires_grad_();  // [5,4] view
  for (const Tensor& x : {xb.detach().requires_grad_(), strided}) {
    Tensor w = wb.detach().requires_grad_(), b = bb.detach().requires_grad_();
    auto ln = autograd::gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); },
                                  {x, w, b});
    EXPECT_TRUE(ln.ok) << "layer_norm: " << ln.message;
    auto ln_plain = autograd::gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], {}, {}, 1e-5); }, {x});
    EXPECT_TRUE(ln_plain.ok) << "layer_norm (no affine): " << ln_plain.message;
    auto rms = autograd::gradcheck([](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1], 1e-6); }, {x, w});
    EXPECT_TRUE(rms.ok) << "rms_norm: " << rms.message;
  }
  // Only the parameters train (the input is frozen).
  Tensor w = wb.detach().requires_grad_(), b = bb.detach().requires_grad_();
  auto params = autograd::gradcheck([&](const std::vector<Tensor>& in) { return layer_norm(xb, in[0], in[1], 1e-5); },
                                    {w, b});
  EXPECT_TRUE(params.ok) << params.message;
}

TEST(OpsNorm, FrozenLayerNormComputesNoParameterGradient) {
  Tensor x = randn({8, 16}).detach().requires_grad_();
  Tensor w = ones({16}), b = zeros({16});  // frozen
  Tensor y = layer_norm(x, w, b, 1e-5);
  sum(y).backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  // Only the bias trains: nothing but the node is needed, so nothing is saved.
  Tensor x2 = randn({8, 16}), b2 = zeros({16}).detach().requires_grad_();
  reset_counters();
  Tensor y2 = layer_norm(x2, w, b2, 1e-5);
  EXPECT_EQ(counters().bytes_saved, 0);
  sum(y2).backward();
  expect_values(b2.grad(), std::vector<double>(16, 8.0), 0);
}

TEST(OpsNorm, RejectsMismatchedWeight) {
  EXPECT_THROW(layer_norm(ones({2, 3}), ones({4}), {}, 1e-5), ShapeError);
  EXPECT_THROW(rms_norm(ones({2, 3}), ones({2}), 1e-6), ShapeError);
}

}  // namespace
