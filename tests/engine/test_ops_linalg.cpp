// matmul and linear: values against hand results and a naive reference on transposed, sliced
// and broadcast operands, gradients by finite differences, frozen-weight masking proven
// through the kernel and saved-bytes counters, and 1- vs 2-thread determinism.
#include <gtest/gtest.h>

#include "engine/autograd/gradcheck.h"
#include "engine/backend/cpu/threading.h"
#include "engine/engine.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"

using namespace engine;

namespace {

// a [B, M, K] @ b [B, K, N] in double by three loops (operands already broadcast).
std::vector<double> naive_bmm(const Tensor& a, const Tensor& b) {
  int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  std::vector<double> c(size_t(B * M * N), 0.0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
          c[size_t((i * M + m) * N + n)] += x[size_t((i * M + m) * K + k)] * y[size_t((i * K + k) * N + n)];
  return c;
}

void expect_near(const Tensor& got, const std::vector<double>& want, double tol = 1e-4) {
  auto g = got.to(DType::f64).to_vector<double>();
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol * (1 + std::abs(want[i]))) << i;
}

Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(); }

}  // namespace

TEST(Matmul, HandValuesAndOneDimOperands) {
  Tensor a = from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  Tensor b = from_vector({1.f, 0.f, 0.f, 1.f, 1.f, 1.f}, {3, 2});
  EXPECT_EQ(matmul(a, b).to_vector<float>(), (std::vector<float>{4, 5, 10, 11}));
  Tensor v = from_vector({1.f, 1.f, 1.f}, {3});
  EXPECT_EQ(matmul(a, v).to_vector<float>(), (std::vector<float>{6, 15}));     // [2,3] @ [3]
  EXPECT_EQ(matmul(v, b).to_vector<float>(), (std::vector<float>{2, 2}));      // [3] @ [3,2]
  EXPECT_EQ(matmul(v, v).shape(), Shape{});                                    // dot
  EXPECT_EQ(matmul(v, v).item<float>(), 3.f);
  EXPECT_EQ(matmul(v, b.expand({4, 3, 2})).shape(), (Shape{4, 2}));
  EXPECT_THROW(matmul(a, a), ShapeError);
  EXPECT_THROW(matmul(arange(0, 4).reshape({2, 2}), arange(0, 4).reshape({2, 2})), DTypeError);
}

TEST(Matmul, TransposedSlicedAndBroadcastOperands) {
  Generator gen(21);
  Tensor a = randn({3, 6, 5}, DType::f32, gen), b = randn({3, 5, 4}, DType::f32, gen);
  auto want = naive_bmm(a, b);
  expect_near(matmul(a, b), want);
  expect_near(matmul(a.transpose(1, 2).contiguous().transpose(1, 2), b), want);   // trans A
  expect_near(matmul(a, b.transpose(1, 2).contiguous().transpose(1, 2)), want);   // trans B
  Tensor wide = randn({3, 6, 9}, DType::f32, gen);                                // ld > cols
  copy_(wide.narrow(2, 2, 5), a);
  expect_near(matmul(wide.narrow(2, 2, 5), b), want);
  Tensor strided = randn({3, 6, 10}, DType::f32, gen);                            // needs packing
  Tensor every_other = strided.reshape({3, 6, 5, 2}).select(3, 0);
  copy_(every_other, a);
  expect_near(matmul(every_other, b), want);
  // Batch broadcasting: [2,1,3,4] @ [5,4,2] -> [2,5,3,2].
  Tensor x = randn({2, 1, 3, 4}, DType::f32, gen), y = randn({5, 4, 2}, DType::f32, gen);
  Tensor c = matmul(x, y);
  EXPECT_EQ(c.shape(), (Shape{2, 5, 3, 2}));
  expect_near(c, naive_bmm(x.expand({2, 5, 3, 4}).reshape({10, 3, 4}), y.expand({2, 5, 4, 2}).reshape({10, 4, 2})));
}

TEST(Matmul, SharedRightOperandFoldsIntoOneGemm) {
  Generator gen(22);
  Tensor a = randn({4, 3, 5}, DType::f32, gen), b = randn({5, 2}, DType::f32, gen);
  reset_counters();
  Tensor c = matmul(a, b);
  EXPECT_EQ(counters().count("matmul"), 1);  // [12,5] @ [5,2]
  expect_near(c, naive_bmm(a, b.expand({4, 5, 2}).contiguous()));
  reset_counters();
  matmul(a, randn({4, 5, 2}, DType::f32, gen));
  EXPECT_EQ(counters().count("matmul"), 4);  // one per batch
  EXPECT_EQ(counters().kernels.at("matmul").flops, 4 * 2 * 3 * 2 * 5);
}

TEST(Matmul, HalfTypesComputeInF32) {
  Generator gen(23);
  Tensor a = randn({4, 8}, DType::f32, gen), b = randn({8, 3}, DType::f32, gen);
  Tensor h = matmul(a.to(DType::bf16), b.to(DType::bf16));
  EXPECT_EQ(h.dtype(), DType::bf16);
  expect_near(h, naive_bmm(a.to(DType::bf16).unsqueeze(0), b.to(DType::bf16).unsqueeze(0)), 1e-2);
}

TEST(Matmul, Gradcheck) {
  Generator gen(24);
  auto r = [&](Shape s) { return randn(s, DType::f64, gen); };
  using F = std::function<Tensor(const std::vector<Tensor>&)>;
  F mm = [](auto& in) { return matmul(in[0], in[1]); };
  std::vector<std::vector<Tensor>> cases = {
      {leaf(r({3, 4})), leaf(r({4, 2}))},
      {leaf(r({4, 3}).t()), leaf(r({2, 4}).t())},                     // both transposed
      {leaf(r({3, 6}).narrow(1, 1, 4)), leaf(r({4, 2}))},              // sliced
      {leaf(r({2, 1, 3, 4})), leaf(r({5, 4, 2}))},                     // batch broadcast
      {leaf(r({2, 3, 4})), leaf(r({4, 2}))},                           // shared b (folded dB)
      {leaf(r({3, 4})), leaf(r({2, 4, 5}))},                           // shared a
      {leaf(r({4})), leaf(r({2, 4, 3}))},                              // 1-d a
      {leaf(r({2, 3, 4})), leaf(r({4}))},                              // 1-d b
      {leaf(r({4})), leaf(r({4}))},                                    // dot
      {r({3, 4}), leaf(r({4, 2}))},                                    // frozen a
  };
  for (auto& in : cases) {
    auto res = autograd::gradcheck(mm, in);
    EXPECT_TRUE(res.ok) << shape_str(in[0].shape()) << " @ " << shape_str(in[1].shape()) << ": " << res.message;
  }
}

TEST(Linear, BothLayoutsAgreeAndGradcheck) {
  Generator gen(25);
  Tensor x = leaf(randn({2, 3, 4}, DType::f64, gen)), w = leaf(randn({5, 4}, DType::f64, gen));
  Tensor b = leaf(randn({5}, DType::f64, gen));
  Tensor y = linear(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 5}));
  expect_near(y, (matmul(x, w.t()) + b).to_vector<double>(), 1e-12);
  Tensor w_in_out = leaf(w.t().contiguous());
  expect_near(linear(x, w_in_out, b, WeightLayout::in_out), y.to_vector<double>(), 1e-12);
  using F = std::function<Tensor(const std::vector<Tensor>&)>;
  F oi = [](auto& in) { return linear(in[0], in[1], in[2]); };
  F io = [](auto& in) { return linear(in[0], in[1], in[2], WeightLayout::in_out); };
  Tensor xt = leaf(randn({4, 3}, DType::f64, gen).t());  // non-contiguous input [3,4]
  for (auto& [f, in] : std::vector<std::pair<F, std::vector<Tensor>>>{
           {oi, {x, w, b}}, {io, {x, w_in_out, b}}, {oi, {xt, w.t().detach().t().requires_grad_(), b}},
           {io, {xt, w.detach().t().requires_grad_(), b}}, {oi, {leaf(randn({4}, DType::f64, gen)), w, b}}}) {
    auto r = autograd::gradcheck(f, in);
    EXPECT_TRUE(r.ok) << r.message;
  }
  EXPECT_THROW(linear(x, w.t()), ShapeError);
}

TEST(Linear, FrozenWeightRunsOnlyTheInputGradient) {
  Generator gen(26);
  Tensor x = leaf(randn({8, 16, 32}, DType::f32, gen));
  Tensor w = randn({24, 32}, DType::f32, gen), b = randn({24}, DType::f32, gen);  // frozen
  reset_counters();
  Tensor y = linear(x, w, b);
  EXPECT_EQ(counters().count("linear"), 1);
  EXPECT_EQ(counters().bytes_saved, int64_t(w.nbytes()));  // W for dX; x is not saved
  sum(y).backward();
  Counters c = counters();
  EXPECT_EQ(c.backward_count("linear.dx"), 1);
  EXPECT_EQ(c.backward_count("linear.dw"), 0);
  EXPECT_EQ(c.backward_count("linear.db"), 0);
  EXPECT_EQ(c.count("matmul"), 0);
  EXPECT_FALSE(w.grad().defined());
  // dX = 1·W summed over outputs: every row of x.grad equals the column sums of W.
  expect_near(x.grad().select(0, 3).select(0, 5), sum(w, {0}).to(DType::f64).to_vector<double>());
}

TEST(Linear, TrainableWeightRunsBothAndFrozenInputOnlyWeight) {
  Generator gen(27);
  Tensor x = leaf(randn({4, 6, 8}, DType::f32, gen));
  Tensor w = leaf(randn({8, 5}, DType::f32, gen)), b = leaf(randn({5}, DType::f32, gen));
  reset_counters();
  Tensor y = linear(x, w, b, WeightLayout::in_out);
  EXPECT_EQ(counters().bytes_saved, int64_t(w.nbytes() + x.nbytes()));
  sum(y).backward();
  Counters c = counters();
  EXPECT_EQ(c.backward_count("linear.dx"), 1);
  EXPECT_EQ(c.backward_count("linear.dw"), 1);
  EXPECT_EQ(c.backward_count("linear.db"), 1);
  EXPECT_EQ(b.grad().to_vector<float>(), std::vector<float>(5, 24.f));
  expect_near(w.grad(), matmul(x.detach().reshape({24, 8}).t(), ones({24, 5})).to(DType::f64).to_vector<double>());

  Tensor frozen_x = x.detach();  // an input that needs no gradient (e.g. the embedding output)
  w.zero_grad();
  reset_counters();
  Tensor y2 = linear(frozen_x, w, {}, WeightLayout::in_out);
  EXPECT_EQ(counters().bytes_saved, int64_t(x.nbytes()));  // W is not needed by dW
  sum(y2).backward();
  EXPECT_EQ(counters().backward_count("linear.dx"), 0);
  EXPECT_EQ(counters().backward_count("linear.dw"), 1);
}

TEST(Linalg, IdenticalForOneAndTwoThreads) {
  Generator gen(28);
  Tensor a = randn({256, 384}, DType::f32, gen), b = randn({384, 320}, DType::f32, gen);
  Tensor q = randn({12, 64, 32}, DType::f32, gen), k = randn({12, 64, 32}, DType::f32, gen);
  Tensor x = leaf(randn({4, 64, 384}, DType::f32, gen)), w = leaf(randn({320, 384}, DType::f32, gen));
  auto run = [&] {
    std::vector<std::vector<float>> r;
    r.push_back(matmul(a, b).to_vector<float>());                    // one threaded GEMM
    r.push_back(matmul(a.t().contiguous().t(), b).to_vector<float>());
    r.push_back(matmul(q, k.transpose(1, 2)).to_vector<float>());   // batch over oneTBB
    x.zero_grad(), w.zero_grad();
    sum(linear(x, w)).backward();
    r.push_back(x.grad().to_vector<float>());
    r.push_back(w.grad().to_vector<float>());
    return r;
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(0);
  EXPECT_EQ(num_threads(), num_threads());
  for (size_t i = 0; i < one.size(); ++i) EXPECT_EQ(one[i], two[i]) << "result " << i;
}
