// scaled_dot_product_attention: values and gradients against the same attention composed
// from matmul/exp/sum ops (which materialise the softmax), finite-difference gradchecks on
// strided and broadcast leaves (bias, prefix keys/values, dropout), what the backward saves
// and computes for frozen inputs, KV-cache alignment, fully masked rows and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"
#include "engine/ops/attention.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"

using namespace engine;

namespace {

Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(); }

// [B,H,T,D] as a permuted view of a [B,T,H,D] tensor, the layout a model produces.
Tensor heads_view(int64_t B, int64_t H, int64_t T, int64_t D, DType dt, Generator& gen) {
  return randn({B, T, H, D}, dt, gen).permute({0, 2, 1, 3});
}

// hidden[b,0,i,j]: key j is padded (mask 0) or in query i's causal future.
Tensor hidden_keys(const Tensor& mask, int64_t B, int64_t Tq, int64_t Tk, bool causal, int64_t q_offset) {
  std::vector<bool> h(size_t(B * Tq * Tk));
  auto m = mask.defined() ? mask.to(DType::f64).to_vector<double>() : std::vector<double>{};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = 0; j < Tk; ++j)
        h[size_t((b * Tq + i) * Tk + j)] = (!m.empty() && m[size_t(b * Tk + j)] == 0) || (causal && j > i + q_offset);
  return from_vector(h, {B, 1, Tq, Tk});
}

// The unfused composition: softmax(scale·q·kᵀ + bias, masked) · v, with P materialised.
Tensor composed(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  int64_t Tq = q.size(2), Tk = k.size(2);
  Tensor s = matmul(q, k.transpose(-2, -1)) * o.scale.value_or(1.0 / std::sqrt(double(q.size(3))));
  if (o.bias.defined()) s = s + o.bias;
  s = masked_fill(s, hidden_keys(o.mask, q.size(0), Tq, Tk, o.causal, Tk - Tq),
                  -std::numeric_limits<double>::infinity());
  Tensor e = exp(s);
  return matmul(e / sum(e, {-1}, true), v);
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const char* what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = got.to(DType::f64).to_vector<double>(), w = want.to(DType::f64).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - w[i]));
  EXPECT_LE(worst, tol) << what << ": max |fused − composed| = " << worst;
}

// Forward and every gradient of the fused op against the composed ops.
void compare_with_composed(DType dt, bool causal, double tol) {
  Generator gen(3);
  const int64_t B = 2, H = 3, Tq = 70, Tk = 70, D = 16;
  Tensor q = leaf(heads_view(B, H, Tq, D, dt, gen)), k = leaf(heads_view(B, H, Tk, D, dt, gen));
  Tensor v = leaf(heads_view(B, H, Tk, D + 4, dt, gen));
  Tensor bias = leaf(randn({1, H, Tq, Tk}, dt, gen));
  std::vector<float> m(size_t(B * Tk), 1.f);
  for (int64_t j = Tk - 9; j < Tk; ++j) m[size_t(Tk + j)] = 0.f;  // batch 1 is padded
  AttentionOptions o{.mask = from_vector(m, {B, Tk}), .bias = bias, .causal = causal};
  Tensor w = randn({B, H, Tq, D + 4}, dt, gen);
  auto grads = [&](Tensor out) {
    sum(out * w).backward();
    std::vector<Tensor> g{q.grad(), k.grad(), v.grad(), bias.grad()};
    for (Tensor* x : {&q, &k, &v, &bias}) x->zero_grad();
    return std::pair{out, g};
  };
  auto [fo, fg] = grads(scaled_dot_product_attention(q, k, v, o));
  auto [co, cg] = grads(composed(q, k, v, o));
  expect_close(fo, co, tol, "out");
  const char* names[] = {"dq", "dk", "dv", "dbias"};
  for (size_t i = 0; i < 4; ++i) expect_close(fg[i], cg[i], tol, names[i]);
}

}  // namespace

TEST(Attention, MatchesComposedOpsWithMaskBiasAndViews) {
  compare_with_composed(DType::f32, false, 2e-5);
  compare_with_composed(DType::f64, true, 1e-11);
}

TEST(Attention, Gradcheck) {
  Generator gen(11);
  Tensor q = leaf(heads_view(2, 2, 3, 4, DType::f64, gen)), k = leaf(heads_view(2, 2, 5, 4, DType::f64, gen));
  Tensor v = leaf(randn({2, 2, 3, 5}, DType::f64, gen).transpose(2, 3));  // [2,2,5,3], transposed
  Tensor bias = leaf(randn({3, 5}, DType::f64, gen));                     // broadcast over B, H
  Tensor mask = from_vector({1.f, 1.f, 1.f, 1.f, 0.f, 1.f, 1.f, 0.f, 1.f, 1.f}, {2, 5});
  auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2],
                                            {.mask = mask, .bias = in[3], .causal = true, .scale = 0.7});
      },
      {q, k, v, bias});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Attention, GradcheckPrefixAndDropout) {
  Generator gen(12);
  Tensor q = leaf(randn({2, 2, 3, 4}, DType::f64, gen)), k = leaf(randn({2, 2, 3, 4}, DType::f64, gen));
  Tensor v = leaf(randn({2, 2, 3, 4}, DType::f64, gen));
  Tensor pk = leaf(randn({1, 2, 2, 4}, DType::f64, gen)), pv = leaf(randn({1, 2, 2, 4}, DType::f64, gen));
  Tensor bias = leaf(randn({2, 1, 1, 5}, DType::f64, gen));  // spans the 2 prefix + 3 keys
  auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        Generator drop(99);  // the same mask at every evaluation
        return scaled_dot_product_attention(in[0], in[1], in[2],
                                            {.bias = in[5], .causal = true, .dropout_p = 0.25,
                                             .generator = &drop, .prefix_k = in[3], .prefix_v = in[4]});
      },
      {q, k, v, pk, pv, bias});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Attention, PrefixEqualsConcatenatedKeysWithMaskOfOnes) {
  Generator gen(13);
  Tensor q = randn({2, 2, 4, 8}, DType::f64, gen), k = randn({2, 2, 4, 8}, DType::f64, gen);
  Tensor v = randn({2, 2, 4, 8}, DType::f64, gen), pk = randn({1, 2, 3, 8}, DType::f64, gen);
  Tensor pv = randn({1, 2, 3, 8}, DType::f64, gen);
  Tensor mask = from_vector({1.f, 1.f, 0.f, 1.f, 1.f, 1.f, 1.f, 0.f}, {2, 4});
  Tensor got = scaled_dot_product_attention(q, k, v, {.mask = mask, .causal = true, .prefix_k = pk, .prefix_v = pv});
  Tensor kk = concat({pk.expand({2, 2, 3, 8}), k}, 2), vv = concat({pv.expand({2, 2, 3, 8}), v}, 2);
  Tensor mm = concat({ones({2, 3}), mask}, 1);
  expect_close(got, composed(q, kk, vv, {.mask = mm, .causal = true}), 1e-12, "prefix");
}

TEST(Attention, KvCacheStepEqualsLastRowOfFullCausal) {
  Generator gen(14);
  Tensor q = randn({1, 2, 9, 8}, DType::f32, gen), k = randn({1, 2, 9, 8}, DType::f32, gen);
  Tensor v = randn({1, 2, 9, 8}, DType::f32, gen);
  Tensor full = scaled_dot_product_attention(q, k, v, {.causal = true});
  Tensor step = scaled_dot_product_attention(q.narrow(2, 8, 1), k, v, {.causal = true});  // q_offset = 8
  expect_close(step, full.narrow(2, 8, 1), 1e-6, "kv step");
}

TEST(Attention, FullyMaskedRowsGiveZerosAndFiniteGradients) {
  Generator gen(15);
  Tensor q = leaf(randn({2, 1, 3, 4}, DType::f32, gen)), k = leaf(randn({2, 1, 3, 4}, DType::f32, gen));
  Tensor v = leaf(randn({2, 1, 3, 4}, DType::f32, gen));
  Tensor out = scaled_dot_product_attention(q, k, v, {.mask = from_vector({1.f, 1.f, 1.f, 0.f, 0.f, 0.f}, {2, 3})});
  sum(out).backward();
  auto o = out.to_vector<float>(), gq = q.grad().to_vector<float>();
  for (size_t i = 12; i < 24; ++i) EXPECT_EQ(o[i], 0.f) << i;  // batch 1 sees no key
  for (float x : gq) EXPECT_TRUE(std::isfinite(x));
}

TEST(Attention, FrozenInputsAreNeitherSavedNorComputed) {
  Generator gen(16);
  const int64_t B = 2, H = 2, T = 64, D = 8;
  Tensor q = randn({B, H, T, D}, DType::f32, gen), k = randn({B, H, T, D}, DType::f32, gen);
  Tensor v = leaf(randn({B, H, T, D}, DType::f32, gen));
  // Only dv: P̃ᵀ·dO needs q, k and lse, but neither v nor out, and no T×T tensor.
  reset_counters();
  Tensor out = scaled_dot_product_attention(q, k, v);
  EXPECT_EQ(counters().bytes_saved, int64_t(q.nbytes() + k.nbytes() + B * H * T * 4));
  sum(out).backward();
  EXPECT_TRUE(v.grad().defined());
  EXPECT_EQ(counters().backward_count("attention_backward"), 1);
  EXPECT_EQ(counters().kernels.at("attention_backward").flops, 2 * B * H * T * T * D * 2);  // S, dV
  // Nothing requires grad: no node, nothing saved.
  reset_counters();
  scaled_dot_product_attention(q, k, v.detach());
  EXPECT_EQ(counters().nodes_recorded, 0);
  EXPECT_EQ(counters().bytes_saved, 0);
}

TEST(Attention, ErrorsNameTheShapes) {
  Tensor q = zeros({2, 3, 4, 8}), k = zeros({2, 3, 5, 8}), v = zeros({2, 3, 5, 6});
  EXPECT_THROW(scaled_dot_product_attention(q, zeros({2, 3, 5, 7}), v), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, zeros({2, 3, 4, 6})), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(zeros({3, 4, 8}), k, v), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, v, {.mask = ones({2, 4})}), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, v, {.bias = zeros({3, 4, 4})}), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, v, {.dropout_p = 1.0}), ValueError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, v, {.prefix_k = zeros({1, 3, 2, 8})}), ValueError);
  try {
    scaled_dot_product_attention(q, k, v, {.bias = zeros({3, 4, 4})});
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[3,4,4]"), std::string::npos) << e.what();
  }
}
