// cross_entropy: values against torch (ignore_index, label smoothing, every reduction),
// f64 gradchecks including strided logits, and argument errors.
#include <cmath>

#include <gtest/gtest.h>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/ops/loss.h"

using namespace engine;

namespace {

Tensor logits3() { return from_vector({1.f, 2.f, 3.f, 0.5f, 0.f, -1.f, 2.f, 2.f, 2.f}, {3, 3}); }
Tensor targets3() { return from_vector<int64_t>({2, -100, 0}, {3}); }

TEST(OpsLoss, CrossEntropyValuesMatchTorch) {
  // torch.nn.functional.cross_entropy on the same data.
  EXPECT_NEAR(cross_entropy(logits3(), targets3()).item<double>(), 0.7531, 1e-4);
  EXPECT_NEAR(cross_entropy(logits3(), targets3(), -100, 0.1).item<double>(), 0.8031, 1e-4);
  std::vector<double> none =
      cross_entropy(logits3(), targets3(), -100, 0.2, Reduction::none).to_vector<double>();
  EXPECT_NEAR(none[0], 0.6076, 1e-4);
  EXPECT_EQ(none[1], 0.0);  // ignored
  EXPECT_NEAR(none[2], 1.0986, 1e-4);
  EXPECT_NEAR(cross_entropy(logits3(), targets3(), -100, 0, Reduction::sum).item<double>(), 2 * 0.7531, 2e-4);
  // Every row ignored: mean is 0/0 = NaN, like torch.
  EXPECT_TRUE(std::isnan(cross_entropy(logits3(), from_vector<int64_t>({-100, -100, -100}, {3})).item<double>()));
}

TEST(OpsLoss, CrossEntropyGradcheck) {
  Generator gen(9);
  Tensor dense = randn({4, 5}, DType::f64, gen).detach().requires_grad_();
  Tensor strided = randn({5, 4}, DType::f64, gen).t().detach().requires_grad_();  // [4,5] view
  Tensor t = from_vector<int64_t>({3, -100, 0, 4}, {4});
  for (const Tensor& x : {dense, strided}) {
    for (double eps : {0.0, 0.15}) {
      for (Reduction red : {Reduction::mean, Reduction::sum, Reduction::none}) {
        auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) {
          return cross_entropy(in[0], t, -100, eps, red);
        }, {x});
        EXPECT_TRUE(r.ok) << "eps " << eps << " reduction " << int(red) << ": " << r.message;
      }
    }
  }
}

TEST(OpsLoss, CrossEntropyFloatMatchesDouble) {
  Generator gen(10);
  Tensor x = randn({64, 1000}, DType::f64, gen) * 3.0;
  std::vector<int64_t> tv(64);
  for (int64_t i = 0; i < 64; ++i) tv[size_t(i)] = (i * 37) % 1000;
  Tensor t = from_vector(tv, {64});
  const double want = cross_entropy(x, t, -100, 0.1).item<double>();
  EXPECT_NEAR(cross_entropy(x.to(DType::f32), t, -100, 0.1).item<double>(), want, 1e-5 * want);
}

TEST(OpsLoss, CrossEntropyRejectsBadArguments) {
  EXPECT_THROW(cross_entropy(logits3(), from_vector<int64_t>({0, 1}, {2})), ShapeError);
  EXPECT_THROW(cross_entropy(logits3(), from_vector<int64_t>({0, 3, 1}, {3})), IndexError);
  EXPECT_THROW(cross_entropy(logits3(), targets3(), -100, 1.5), ValueError);
  EXPECT_THROW(cross_entropy(logits3(), from_vector({0.f, 1.f, 2.f}, {3})), DTypeError);
}

}  // namespace
