// Reductions: values against hand-computed results and a naive reference over every layout
// (contiguous, transposed, sliced, broadcast), gradients by finite differences, and
// bit-identical results for 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd/gradcheck.h"
#include "engine/backend/cpu/threading.h"
#include "engine/engine.h"
#include "engine/ops/reduce.h"
#include "simd_targets.h"

using namespace engine;

namespace {

// Σ x over the flagged dims in double, by walking every element (kept dims in order).
std::vector<double> naive_sum(const Tensor& x, const std::vector<bool>& flags) {
  std::vector<double> v = x.to(DType::f64).to_vector<double>();
  Shape kept;
  for (size_t d = 0; d < flags.size(); ++d) if (!flags[d]) kept.push_back(x.shape()[d]);
  std::vector<double> out(size_t(shape_numel(kept)), 0.0);
  std::vector<int64_t> idx(flags.size(), 0);
  for (double e : v) {
    int64_t o = 0;
    for (size_t d = 0; d < flags.size(); ++d) if (!flags[d]) o = o * x.shape()[d] + idx[d];
    out[size_t(o)] += e;
    for (int64_t d = int64_t(idx.size()) - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < x.shape()[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
  return out;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << i;
}

Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(); }

}  // namespace

TEST(Reduce, SumMeanVarValues) {
  Tensor x = arange(0, 24, 1, DType::f32).reshape({2, 3, 4});
  EXPECT_EQ(sum(x).item<float>(), 276.f);
  EXPECT_EQ(sum(x, {1}).to_vector<float>(), (std::vector<float>{12, 15, 18, 21, 48, 51, 54, 57}));
  Tensor k = sum(x, {0, -1}, true);
  EXPECT_EQ(k.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(k.to_vector<float>(), (std::vector<float>{60, 92, 124}));
  EXPECT_EQ(mean(x, {2}).to_vector<float>()[1], 5.5f);
  // var of {0, 4, 8} (x[0, :, 0]): mean 4, squared deviations 32 -> 16 (n-1) or 32/3 (n).
  EXPECT_FLOAT_EQ(var(x, {1}).to_vector<float>()[0], 16.f);
  EXPECT_FLOAT_EQ(var(x, {1}, 0).to_vector<float>()[0], 32.f / 3);
  EXPECT_EQ(var(x, {1}, 1, true).shape(), (Shape{2, 1, 4}));
  EXPECT_THROW(sum(x, {3}), Error);
  EXPECT_THROW(sum(x, {1, -2}), ShapeError);
}

TEST(Reduce, DtypesIntegerAndHalf) {
  Tensor i = arange(0, 10, 1, DType::i32);
  Tensor s = sum(i);
  EXPECT_EQ(s.dtype(), DType::i64);
  EXPECT_EQ(s.item<int64_t>(), 45);
  Tensor h = full({1000}, 0.5, DType::bf16);
  Tensor hs = sum(h);
  EXPECT_EQ(hs.dtype(), DType::bf16);
  EXPECT_EQ(hs.item<float>(), 500.f);  // f32 accumulation, one rounding at the end
  EXPECT_THROW(mean(i), DTypeError);
  EXPECT_EQ(max(i).item<int64_t>(), 9);
}

TEST(Reduce, SumMatchesReferenceOnEveryLayout) {
  engine::test::for_each_simd_target([&] {
    Generator gen(11);
    Tensor base = randn({4, 5, 6}, DType::f32, gen);
    std::vector<Tensor> layouts = {base, base.permute({2, 0, 1}), base.narrow(2, 1, 4),
                                   base.transpose(0, 1).narrow(1, 1, 2),
                                   randn({5, 1, 6}, DType::f32, gen).expand({5, 4, 6})};
    for (const Tensor& x : layouts)
      for (int mask = 0; mask < 8; ++mask) {
        std::vector<int64_t> dims;
        std::vector<bool> flags(3);
        for (int d = 0; d < 3; ++d)
          if (mask >> d & 1) dims.push_back(d), flags[size_t(d)] = true;
        if (dims.empty()) flags = {true, true, true};
        expect_near(sum(x, dims).to(DType::f64).to_vector<double>(), naive_sum(x, flags), 1e-5);
      }
  });
}

TEST(Reduce, LongRowsAndColumnsAreChunked) {
  engine::test::for_each_simd_target([&] {
    Generator gen(12);
    // Long enough to cut the reduced dim into several pieces (row and column forms).
    Tensor rows = rand({3, 70001}, DType::f32, gen), cols = rand({50001, 3}, DType::f32, gen);
    expect_near(sum(rows, {1}).to(DType::f64).to_vector<double>(), naive_sum(rows, {false, true}), 1e-5);
    expect_near(sum(cols, {0}).to(DType::f64).to_vector<double>(), naive_sum(cols, {true, false}), 1e-5);
    expect_near(sum(cols.t(), {1}).to(DType::f64).to_vector<double>(), naive_sum(cols, {true, false}), 1e-5);
    expect_near({sum(rows).item<double>()}, naive_sum(rows, {true, true}), 1e-5);
    Tensor big = arange(0, 200000, 1, DType::i64);
    EXPECT_EQ(sum(big).item<int64_t>(), int64_t(199999) * 200000 / 2);
  });
}

TEST(Reduce, MaxAndArgmax) {
  Tensor x = from_vector({1.f, 7.f, 7.f, 2.f, 5.f, -1.f, 5.f, 0.f}, {2, 4});
  MaxResult r = max(x, 1);
  EXPECT_EQ(r.values.to_vector<float>(), (std::vector<float>{7, 5}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // first of ties
  EXPECT_EQ(r.indices.dtype(), DType::i64);
  MaxResult c = max(x, 0, true);
  EXPECT_EQ(c.values.shape(), (Shape{1, 4}));
  EXPECT_EQ(c.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(max(x).item<float>(), 7.f);
  EXPECT_EQ(argmax(x.t(), 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  Tensor n = from_vector({1.f, NAN, 3.f, NAN}, {4});
  EXPECT_TRUE(std::isnan(max(n).item<float>()));
  EXPECT_EQ(argmax(n, 0).item<int64_t>(), 1);
  Tensor big = arange(0, 100000, 1, DType::f32).reshape({100, 1000}).t();  // column form, chunked
  EXPECT_EQ(argmax(big, 1).to_vector<int64_t>()[3], 99);
  EXPECT_EQ(argmax(big.contiguous().reshape({-1}), 0).item<int64_t>(), 99999);
  EXPECT_THROW(max(zeros({0, 3}), 0), ShapeError);
}

TEST(Reduce, Gradcheck) {
  Generator gen(13);
  Tensor a = leaf(randn({3, 4, 5}, DType::f64, gen));
  Tensor t = leaf(randn({5, 4}, DType::f64, gen).t());                    // transposed leaf [4,5]
  Tensor s = leaf(randn({4, 7}, DType::f64, gen).narrow(1, 2, 3));        // sliced leaf [4,3]
  using F = std::function<Tensor(const std::vector<Tensor>&)>;
  std::vector<std::pair<F, Tensor>> cases = {
      {[](auto& in) { return sum(in[0]); }, a},
      {[](auto& in) { return sum(in[0], {0, 2}); }, a},
      {[](auto& in) { return sum(in[0], {-1}, true); }, t},
      {[](auto& in) { return mean(in[0], {1}); }, a},
      {[](auto& in) { return mean(in[0]); }, s},
      {[](auto& in) { return var(in[0], {1}); }, a},
      {[](auto& in) { return var(in[0], {0, 2}, 0, true); }, a},
      {[](auto& in) { return var(in[0]); }, t},
      {[](auto& in) { return max(in[0], 1).values; }, a},
      {[](auto& in) { return max(in[0], 0, true).values; }, t},
      {[](auto& in) { return max(in[0]); }, s},
  };
  for (auto& [f, x] : cases) {
    auto r = autograd::gradcheck(f, {x});
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(Reduce, MaxGradientGoesToFirstArgmax) {
  Tensor x = from_vector({3.f, 3.f, 1.f}, {3}).requires_grad_();
  max(x).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 0, 0}));
}

TEST(Reduce, IdenticalForOneAndTwoThreads) {
  Generator gen(14);
  Tensor x = randn({64, 3000}, DType::f32, gen);
  auto run = [&] {
    std::vector<std::vector<float>> r;
    for (const Tensor& v : {x, x.t()})
      for (std::vector<int64_t> d : {std::vector<int64_t>{}, {0}, {1}})
        r.push_back(sum(v, d).to_vector<float>());
    r.push_back(var(x.reshape({8, 8, 3000}), {0, 2}).to_vector<float>());  // the copy fallback
    r.push_back(max(x, 0).indices.to(DType::f32).to_vector<float>());
    return r;
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(0);
  EXPECT_EQ(one, two);
}

TEST(Reduce, SumToUndoesBroadcasting) {
  Generator gen(15);
  Tensor g = randn({2, 3, 4}, DType::f32, gen);
  expect_near(sum_to(g, {3, 1}).to(DType::f64).to_vector<double>(), naive_sum(g, {true, false, true}), 1e-5);
  EXPECT_EQ(sum_to(g, {1, 3, 1}).shape(), (Shape{1, 3, 1}));
  Tensor h = sum_to(g.to(DType::bf16), {4});
  EXPECT_EQ(h.dtype(), DType::bf16);
  expect_near(h.to(DType::f64).to_vector<double>(), naive_sum(g.to(DType::bf16), {true, true, false}), 1e-2);
}
