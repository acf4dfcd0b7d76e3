// Gradient masks through the indexing ops: a row-masked embedding writes its gradient
// directly in the compact [k, D] layout (never allocating the dense [V, D] one), element and
// row masks through other ops are compacted by the engine, and both agree with the dense
// gradient masked. expand_compact / compact_grad round trip.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/ops/indexing.h"

using namespace engine;

namespace {
// The dense gradient of an unmasked copy of `w` under f, for comparison.
Tensor dense_grad(const Tensor& w, const std::function<Tensor(const Tensor&)>& f, const Tensor& cot) {
  Tensor c = w.detach().clone().requires_grad_();
  f(c).backward(cot);
  return c.grad();
}
}  // namespace

TEST(GradMask, RowMaskedEmbeddingGradientIsCompactAndCorrect) {
  Generator gen(1);
  Tensor w = randn({10, 4}, DType::f32, gen).requires_grad_();
  set_row_mask(w, {7, 2, 5});
  Tensor ids = from_vector(std::vector<int64_t>{2, 3, 7, 2, 0, 9}, {2, 3});
  auto f = [&](const Tensor& weight) { return tanh(embedding(ids, weight) * 2.0); };
  Tensor cot = randn({2, 3, 4}, DType::f32, gen);
  reset_counters();
  f(w).backward(cot);
  EXPECT_EQ(w.grad().shape(), (Shape{3, 4}));
  EXPECT_EQ(counters().backward_count("embedding"), 1);
  Tensor dense = dense_grad(w, f, cot);
  const GradMask& m = *grad_mask(w);
  EXPECT_EQ(w.grad().to_vector<float>(), compact_grad(m, dense).to_vector<float>());
  // Row 5 is trainable but unused: its compact row is zero; rows 3, 0, 9 are frozen.
  auto g = expand_compact(m, w.grad(), w.shape()).to_vector<float>();
  for (int64_t r : {0, 3, 5, 9})
    for (int64_t d = 0; d < 4; ++d) EXPECT_EQ(g[size_t(r * 4 + d)], 0.f);
}

TEST(GradMask, PaddingRowInsideTheMaskGetsNoGradient) {
  Tensor w = ones({6, 2}).requires_grad_();
  set_row_mask(w, {1, 4});
  embedding(from_vector(std::vector<int32_t>{4, 1, 4}, {3}), w, /*padding_idx=*/4).backward(ones({3, 2}));
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1, 1, 0, 0}));
}

TEST(GradMask, FewTrainableRowsOfAHugeVocabularyNeverAllocateTheDenseGradient) {
  const int64_t V = 200000, D = 64;
  Tensor w = zeros({V, D}).requires_grad_();
  set_row_mask(w, {1, 500, V - 1});
  std::vector<int64_t> id_values;
  for (int64_t i = 0; i < 64; ++i) id_values.push_back(i % 3 == 0 ? V - 1 : i * 311);
  Tensor ids = from_vector(id_values, {4, 16});
  Tensor y = embedding(ids, w);  // [4,16,64]
  Tensor cot = ones({4, 16, D});
  size_t before = memory_stats().in_use;
  reset_peak_memory();
  y.backward(cot);
  size_t peak_increase = memory_stats().peak - before;
  EXPECT_LT(peak_increase, size_t(V * D * 4 / 100)) << "peak grew by " << peak_increase << " bytes";
  EXPECT_EQ(w.grad().shape(), (Shape{3, D}));
  // Row V-1 appears 22 times among the ids, row 1 never, row 500 never (i*311 hits no 500).
  auto g = w.grad().to_vector<float>();
  EXPECT_EQ(g[0], 0.f);
  EXPECT_EQ(g[size_t(2 * D)], 22.f);
}

TEST(GradMask, ElementMaskThroughGatherAndIndexSelect) {
  Generator gen(2);
  Tensor w = randn({4, 5}, DType::f32, gen).requires_grad_();
  Tensor mask = gt(rand({4, 5}, DType::f32, gen), 0.5);
  set_element_mask(w, mask);
  Tensor idx = from_vector(std::vector<int64_t>{4, 0, 0, 1, 3, 3, 2, 2}, {4, 2});
  Tensor sel = from_vector(std::vector<int64_t>{3, 1, 3}, {3});
  auto f = [&](const Tensor& x) { return index_select(gather(x, 1, idx), 0, sel) * 3.0; };
  Tensor cot = randn({3, 2}, DType::f32, gen);
  f(w).backward(cot);
  const GradMask& m = *grad_mask(w);
  EXPECT_EQ(w.grad().shape(), (Shape{m.count()}));
  Tensor dense = dense_grad(w, f, cot);
  Tensor masked = where(mask, dense, zeros({4, 5}));
  EXPECT_EQ(expand_compact(m, w.grad(), w.shape()).to_vector<float>(), masked.to_vector<float>());
}

TEST(GradMask, RowMaskThroughScatterAddIsCompactedByTheEngine) {
  Generator gen(3);
  Tensor w = randn({5, 3}, DType::f32, gen).requires_grad_();
  set_row_mask(w, {0, 3});
  Tensor src = randn({2, 3}, DType::f32, gen);
  Tensor idx = from_vector(std::vector<int64_t>{3, 0, 1, 4, 4, 2}, {2, 3});
  auto f = [&](const Tensor& x) { return scatter_add(x * x, 0, idx, src); };
  Tensor cot = randn({5, 3}, DType::f32, gen);
  f(w).backward(cot);
  EXPECT_EQ(w.grad().shape(), (Shape{2, 3}));
  EXPECT_EQ(w.grad().to_vector<float>(), compact_grad(*grad_mask(w), dense_grad(w, f, cot)).to_vector<float>());
}

TEST(GradMask, ExpandCompactRoundTrip) {
  Generator gen(4);
  Tensor p = zeros({6, 4});
  set_row_mask(p, {5, 1});
  Tensor compact = randn({2, 4}, DType::f32, gen);
  const GradMask& rows = *grad_mask(p);
  Tensor dense = expand_compact(rows, compact, p.shape());
  EXPECT_EQ(compact_grad(rows, dense).to_vector<float>(), compact.to_vector<float>());
  EXPECT_EQ(dense.select(0, 5).to_vector<float>(), compact.select(0, 1).to_vector<float>());
  EXPECT_EQ(dense.select(0, 0).to_vector<float>(), std::vector<float>(4, 0.f));

  Tensor mask = from_vector(std::vector<bool>{true, false, false, true, true, false}, {2, 3});
  Tensor q = zeros({2, 3});
  set_element_mask(q, mask);
  Tensor full = randn({2, 3}, DType::f32, gen);
  const GradMask& el = *grad_mask(q);
  Tensor back = expand_compact(el, compact_grad(el, full), q.shape());
  EXPECT_EQ(back.to_vector<float>(), where(mask, full, zeros({2, 3})).to_vector<float>());
}
