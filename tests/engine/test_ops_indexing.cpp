// Indexing ops and dropout: forward values against hand-computed results, f64 gradchecks
// (including non-contiguous inputs), errors that name the bad id, and bit-identical results
// with one or two threads (the backward scatters are deterministic, never atomic).
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <functional>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/ops/indexing.h"

using namespace engine;

namespace {
Tensor ids_i64(std::vector<int64_t> v, Shape s) { return from_vector(v, s); }
Tensor ids_i32(std::vector<int32_t> v, Shape s) { return from_vector(v, s); }
// n ids in [0, vocab), scrambled so that every id repeats at scattered positions.
std::vector<int64_t> pseudo_ids(int64_t n, int64_t vocab) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = (i * 7919 + i / 3) % vocab;
  return v;
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                      const std::vector<Tensor>& inputs) {
  auto r = autograd::gradcheck(fn, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

// Runs f once with one thread and once with two; returns both results.
std::pair<std::vector<float>, std::vector<float>> with_1_and_2_threads(const std::function<Tensor()>& f) {
  std::vector<float> one, two;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = f().to_vector<float>();
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
    two = f().to_vector<float>();
  }
  return {one, two};
}
}  // namespace

TEST(Embedding, GathersRowsForI32AndI64Ids) {
  Tensor w = arange(0, 12, 1, DType::f32).reshape({4, 3});
  Tensor a = embedding(ids_i64({3, 0, 3, 1}, {2, 2}), w);
  EXPECT_EQ(a.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5}));
  Tensor b = embedding(ids_i32({3, 0, 3, 1}, {2, 2}), w);
  EXPECT_EQ(b.to_vector<float>(), a.to_vector<float>());
  Tensor h = embedding(ids_i32({2}, {1}), w.to(DType::bf16));
  EXPECT_EQ(h.dtype(), DType::bf16);
  EXPECT_EQ(h.to(DType::f32).to_vector<float>(), (std::vector<float>{6, 7, 8}));
}

TEST(Embedding, OutOfRangeIdNamesIdAndVocabulary) {
  Tensor w = zeros({5, 2});
  try {
    embedding(ids_i64({1, 7}, {2}), w);
    FAIL() << "expected IndexError";
  } catch (const IndexError& e) {
    EXPECT_NE(std::string(e.what()).find("7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("vocabulary size 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(embedding(ids_i32({-1}, {1}), w), IndexError);
  EXPECT_THROW(embedding(from_vector({1.f}, {1}), w), DTypeError);
  EXPECT_THROW(embedding(ids_i64({0}, {1}), zeros({5})), ShapeError);
}

TEST(Embedding, BackwardSumsRepeatedIdsAndSkipsPadding) {
  Tensor w = zeros({4, 2}).requires_grad_();
  reset_counters();
  Tensor y = embedding(ids_i64({1, 3, 1, 0}, {4}), w, /*padding_idx=*/3);
  y.backward(from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f}, {4, 2}));
  // row 1 = g[0] + g[2]; row 3 is padding; row 0 = g[3]; row 2 unused.
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{7, 8, 6, 8, 0, 0, 0, 0}));
  EXPECT_EQ(counters().backward_count("embedding"), 1);
}

TEST(Embedding, Gradcheck) {
  Generator gen(11);
  Tensor w = randn({3, 5}, DType::f64, gen).t().detach().requires_grad_();  // [5,3], transposed
  Tensor ids = ids_i32({4, 0, 4, 2, 1, 4}, {2, 3});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return embedding(ids, in[0]); }, {w});
  // padding_idx deliberately breaks the true gradient of its row (torch's semantics), so
  // gradcheck only an unused padding row here; BackwardSumsRepeatedIds... covers a used one.
  expect_gradcheck([&](const std::vector<Tensor>& in) { return embedding(ids, in[0], 3); }, {w});
}

TEST(IndexSelect, ForwardAndGradcheck) {
  Tensor x = arange(0, 24, 1, DType::f32).reshape({2, 3, 4});
  Tensor y = index_select(x, 1, ids_i64({2, 0, 2}, {3}));
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(y.to_vector<float>()[0], 8.f);   // x[0,2,0]
  EXPECT_EQ(y.to_vector<float>()[4], 0.f);   // x[0,0,0]
  EXPECT_EQ(y.to_vector<float>()[13], 21.f);  // y[1,0,1] = x[1,2,1]
  EXPECT_EQ(index_select(x, -1, ids_i32({3}, {1})).shape(), (Shape{2, 3, 1}));
  EXPECT_THROW(index_select(x, 1, ids_i64({3}, {1})), IndexError);
  EXPECT_THROW(index_select(x, 0, ids_i64({0, 1}, {1, 2})), ShapeError);

  Generator gen(2);
  Tensor xd = randn({4, 3, 2}, DType::f64, gen).permute({2, 1, 0}).detach().requires_grad_();  // [2,3,4]
  for (int64_t dim : {0, 1, 2}) {
    Tensor idx = ids_i64({1, 0, 1, 1}, {4});
    expect_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], dim, idx); }, {xd});
  }
}

TEST(Gather, MatchesTorchExampleAndGradchecks) {
  Tensor t = from_vector({1.f, 2.f, 3.f, 4.f}, {2, 2});
  EXPECT_EQ(gather(t, 1, ids_i64({0, 0, 1, 0}, {2, 2})).to_vector<float>(), (std::vector<float>{1, 1, 4, 3}));
  EXPECT_EQ(gather(t, 0, ids_i64({1, 0}, {1, 2})).to_vector<float>(), (std::vector<float>{3, 2}));
  EXPECT_EQ(gather(t.t(), 1, ids_i32({1, 1}, {2, 1})).to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_THROW(gather(t, 1, ids_i64({2}, {1, 1})), IndexError);
  EXPECT_THROW(gather(t, 1, ids_i64({0}, {1})), ShapeError);
  EXPECT_THROW(gather(t, 1, ids_i64({0, 0, 0}, {3, 1})), ShapeError);

  Generator gen(3);
  Tensor x = randn({4, 3}, DType::f64, gen).t().detach().requires_grad_();  // [3,4]
  Tensor idx = ids_i64({3, 3, 0, 1, 2, 2}, {2, 3});  // smaller than x off dim 1, repeats
  expect_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 1, idx); }, {x});
  Tensor idx0 = ids_i64({2, 0, 1, 2, 2, 2, 0, 1}, {2, 4});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 0, idx0); }, {x});
}

TEST(ScatterAdd, MatchesHandComputedAndGradchecks) {
  Tensor x = zeros({2, 3});
  Tensor src = from_vector({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  Tensor y = scatter_add(x, 1, ids_i64({0, 0, 2, 1}, {2, 2}), src);
  // row 0: src 1,2 both to col 0; row 1: src 4 -> col 2, src 5 -> col 1 (src col 2 unused).
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 0, 0, 0, 5, 4}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>(6, 0.f)));  // out of place
  Tensor y0 = scatter_add(ones({2, 2}), 0, ids_i64({1, 1, 1, 0}, {2, 2}), from_vector({1.f, 2.f, 3.f, 4.f}, {2, 2}));
  EXPECT_EQ(y0.to_vector<float>(), (std::vector<float>{1, 5, 5, 3}));
  EXPECT_THROW(scatter_add(x, 1, ids_i64({3}, {1, 1}), src), IndexError);
  EXPECT_THROW(scatter_add(x, 1, ids_i64({0}, {1, 1}), src.to(DType::f64)), DTypeError);

  Generator gen(4);
  Tensor xd = randn({3, 2}, DType::f64, gen).t().detach().requires_grad_();  // [2,3]
  Tensor sd = randn({3, 4}, DType::f64, gen).t().detach().requires_grad_();  // [4,3], bigger than index
  Tensor idx = ids_i64({2, 2, 0, 1, 0, 2}, {2, 3});
  expect_gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 1, idx, in[1]); }, {xd, sd});
  Tensor idx0 = ids_i64({1, 0, 1, 1, 1, 0}, {3, 2});
  Tensor xs = randn({2, 2}, DType::f64, gen).requires_grad_();
  Tensor ss = randn({3, 2}, DType::f64, gen).requires_grad_();
  expect_gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, idx0, in[1]); }, {xs, ss});
}

TEST(Dropout, InvertedMaskFromPhilox) {
  Tensor x = ones({100000});
  Generator g1(5), g2(5);
  std::vector<float> a = dropout(x, 0.25, true, g1).to_vector<float>();
  EXPECT_EQ(g1.offset(), 100000u);  // the generator advanced by numel
  EXPECT_EQ(dropout(x, 0.25, true, g2).to_vector<float>(), a);  // same seed, same mask
  int64_t kept = 0;
  for (float v : a) {
    EXPECT_TRUE(v == 0.f || std::abs(v - 1.f / 0.75f) < 1e-6f) << v;
    kept += v != 0.f;
  }
  EXPECT_NEAR(double(kept) / 100000, 0.75, 0.01);
  EXPECT_NE(dropout(x, 0.25, true, g1).to_vector<float>(), a);  // the stream moved on
  EXPECT_TRUE(dropout(x, 0.25, false, g1).is_same(x));           // eval: identity
  EXPECT_EQ(dropout(x, 1.0, true, g1).to_vector<float>(), std::vector<float>(100000, 0.f));
  EXPECT_THROW(dropout(x, 1.5, true, g1), ValueError);
}

TEST(Dropout, BackwardRegeneratesTheMaskAndSavesNothing) {
  Tensor x = from_vector(std::vector<double>(64, 2.0), {8, 8}).requires_grad_();
  Generator gen(9);
  reset_counters();
  Tensor y = dropout(x.t(), 0.5, true, gen);  // a non-contiguous input
  EXPECT_EQ(counters().bytes_saved, 0);
  y.backward(ones({8, 8}, DType::f64));
  // d y / d x^T is the mask scaled by 2: the gradient is y / x (transposed back).
  std::vector<double> gy = y.detach().t().contiguous().to_vector<double>(), gx = x.grad().to_vector<double>();
  for (size_t i = 0; i < gx.size(); ++i) EXPECT_DOUBLE_EQ(gx[i], gy[i] / 2.0);

  Tensor xd = randn({3, 4}, DType::f64, gen).t().detach().requires_grad_();
  expect_gradcheck([&](const std::vector<Tensor>& in) {
    Generator fixed(77);  // each evaluation draws the same mask
    return dropout(in[0], 0.3, true, fixed);
  }, {xd});
}

TEST(Indexing, SameResultWithOneOrTwoThreads) {
  Generator gen(1);
  Tensor w = randn({50, 256}, DType::f32, gen).requires_grad_();
  Tensor ids = ids_i64(pseudo_ids(4096, 50), {4096});  // every row repeated ~80 times
  Tensor g = randn({4096, 256}, DType::f32, gen);
  auto emb = with_1_and_2_threads([&] {
    w.zero_grad();
    embedding(ids, w).backward(g);
    return w.grad();
  });
  EXPECT_EQ(emb.first, emb.second);

  Tensor x = randn({64, 50}, DType::f32, gen).requires_grad_();
  Tensor idx = ids_i64(pseudo_ids(64 * 4096, 50), {64, 4096});
  Tensor src = randn({64, 4096}, DType::f32, gen);
  auto sc = with_1_and_2_threads([&] { return scatter_add(x.detach(), 1, idx, src); });
  EXPECT_EQ(sc.first, sc.second);
  auto ga = with_1_and_2_threads([&] {
    x.zero_grad();
    gather(x, 1, idx).backward(src);
    return x.grad();
  });
  EXPECT_EQ(ga.first, ga.second);
  Tensor sel = ids_i64(pseudo_ids(4096, 64), {4096});
  auto is = with_1_and_2_threads([&] {
    x.zero_grad();
    index_select(x, 0, sel).backward(g.narrow(1, 0, 50));
    return x.grad();
  });
  EXPECT_EQ(is.first, is.second);
  auto dr = with_1_and_2_threads([&] {
    Generator d(3);
    return dropout(ones({300000}), 0.1, true, d);
  });
  EXPECT_EQ(dr.first, dr.second);
}
