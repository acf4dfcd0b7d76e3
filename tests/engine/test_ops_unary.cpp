// Unary ops on the SIMD kernels: values against known results, f64 gradchecks on contiguous
// and strided inputs, f32 vs f64 agreement, half-type upcasting, and saving only x or y.
#include <cmath>

#include <gtest/gtest.h>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/ops/reduce.h"

using namespace engine;

namespace {

using UnaryFn = Tensor (*)(const Tensor&);
struct Named { const char* name; UnaryFn f; bool positive; };
const Named kOps[] = {{"neg", neg, false},     {"exp", exp, false},   {"log", log, true},
                      {"sqrt", sqrt, true},    {"rsqrt", rsqrt, true}, {"abs", abs, false},
                      {"square", square, false}, {"tanh", tanh, false}, {"sigmoid", sigmoid, false},
                      {"relu", relu, false},   {"gelu", gelu, false}, {"gelu_tanh", gelu_tanh, false},
                      {"silu", silu, false}};

TEST(OpsUnary, KnownValues) {
  Tensor x = from_vector({-2.0f, -0.5f, 0.0f, 1.0f, 3.0f}, {5});
  auto near = [](const Tensor& t, std::vector<float> want) {
    std::vector<float> got = t.to_vector<float>();
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-6 * (1 + std::fabs(want[i]))) << i;
  };
  near(relu(x), {0, 0, 0, 1, 3});
  near(gelu(x), {-0.04550026f, -0.15426877f, 0, 0.84134475f, 2.99595031f});       // torch values
  near(gelu_tanh(x), {-0.04540231f, -0.15428599f, 0, 0.84119201f, 2.99636261f});  // torch values
  near(silu(x), {-0.23840584f, -0.18877033f, 0, 0.73105858f, 2.85772238f});
  near(sigmoid(x), {0.11920292f, 0.37754067f, 0.5f, 0.73105858f, 0.95257413f});
}

TEST(OpsUnary, GradcheckContiguousAndStrided) {
  Generator gen(3);
  Tensor base = randn({4, 3}, DType::f64, gen) * 1.5;
  Tensor pos = rand({4, 3}, DType::f64, gen) + 0.3;
  for (const Named& op : kOps) {
    Tensor src = op.positive ? pos : base;
    Tensor dense = src.detach().requires_grad_();
    Tensor strided = src.t().detach().requires_grad_();  // [3,4], non-contiguous
    for (const Tensor& x : {dense, strided}) {
      auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return op.f(in[0]); }, {x});
      EXPECT_TRUE(r.ok) << op.name << (x.is_contiguous() ? "" : " (strided)") << ": " << r.message;
    }
  }
}

TEST(OpsUnary, Float32MatchesFloat64) {
  Generator gen(4);
  Tensor x64 = randn({257}, DType::f64, gen) * 4.0;
  Tensor pos64 = rand({257}, DType::f64, gen) * 10.0 + 1e-3;
  for (const Named& op : kOps) {
    Tensor in64 = op.positive ? pos64 : x64;
    std::vector<double> want = op.f(in64).to_vector<double>();
    std::vector<double> got = op.f(in64.to(DType::f32)).to_vector<double>();
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-6 * (1 + std::fabs(want[i]))) << op.name << " " << i;
  }
}

TEST(OpsUnary, HalfTypesUpcastAndGradientKeepsDtype) {
  Tensor x = from_vector({-1.0f, 0.5f, 2.0f}, {3}).to(DType::bf16).detach().requires_grad_();
  Tensor y = gelu(x);
  EXPECT_EQ(y.dtype(), DType::bf16);
  sum(y).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), DType::bf16);
  EXPECT_NEAR(x.grad().to_vector<float>()[2], 1.0852, 1e-2);  // gelu'(2)
}

TEST(OpsUnary, SavesOnlyWhatTheDerivativeReads) {
  Tensor x = ones({1000}, DType::f32).detach().requires_grad_();
  reset_counters();
  Tensor y = exp(x);  // exp' = y: only y is saved
  EXPECT_EQ(counters().bytes_saved, 4000);
  reset_counters();
  Tensor z = neg(x);  // neg' = -1: nothing saved
  EXPECT_EQ(counters().bytes_saved, 0);
}

}  // namespace
