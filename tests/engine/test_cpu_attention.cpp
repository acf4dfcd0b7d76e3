// Fused CPU attention kernel (engine/backend/cpu/attention.h) against a naive double reference
// that materialises the softmax, for every option (masks, causal offsets, broadcast biases and
// their gradients, strided views, dropout), plus finite-difference gradchecks and a
// thread-count determinism check.
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/attention.h"
#include "engine/core/philox.h"
#include "simd_targets.h"

namespace {

using engine::cpu::AttentionArgs;
using engine::cpu::AttentionGrads;
using engine::cpu::Strides4;

// A 4-d view into a (possibly shared) buffer: extents n, element strides s, offset.
template <typename T>
struct Operand {
  std::shared_ptr<std::vector<T>> buf;
  int64_t off = 0, n[4] = {0, 0, 0, 0};
  Strides4 s;
  T* ptr() const { return buf->data() + off; }
  T& at(int64_t b, int64_t h, int64_t i, int64_t j) const {
    return ptr()[b * s.b + h * s.h + i * s.t + j * s.d];
  }
  int64_t numel() const { return n[0] * n[1] * n[2] * n[3]; }
};

template <typename T>
Operand<T> contiguous(int64_t n0, int64_t n1, int64_t n2, int64_t n3) {
  Operand<T> o{std::make_shared<std::vector<T>>(size_t(n0 * n1 * n2 * n3)), 0, {n0, n1, n2, n3}, {}};
  o.s = {n1 * n2 * n3, n2 * n3, n3, 1};
  return o;
}

// [B,H,T,D] as a view of a [B,T,H,D] buffer (the layout before the head permute).
template <typename T>
Operand<T> permuted(int64_t B, int64_t H, int64_t Tn, int64_t D) {
  Operand<T> o = contiguous<T>(B, H, Tn, D);
  o.s = {Tn * H * D, D, H * D, 1};
  return o;
}

// [B,H,T,D] stored as [B,H,D,T]: the last dim is strided, so the kernel must pack.
template <typename T>
Operand<T> transposed(int64_t B, int64_t H, int64_t Tn, int64_t D) {
  Operand<T> o = contiguous<T>(B, H, Tn, D);
  o.s = {H * D * Tn, D * Tn, 1, Tn};
  return o;
}

template <typename T>
Operand<T> with_layout(const std::string& layout, int64_t B, int64_t H, int64_t Tn, int64_t D) {
  if (layout == "permuted") return permuted<T>(B, H, Tn, D);
  if (layout == "transposed") return transposed<T>(B, H, Tn, D);
  return contiguous<T>(B, H, Tn, D);
}

template <typename T>
void fill(const Operand<T>& o, std::mt19937& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t a = 0; a < o.n[0]; ++a)
    for (int64_t b = 0; b < o.n[1]; ++b)
      for (int64_t c = 0; c < o.n[2]; ++c)
        for (int64_t d = 0; d < o.n[3]; ++d) o.at(a, b, c, d) = T(u(rng));
}

struct Case {
  int64_t B = 2, H = 3, Tq = 37, Tk = 37, D = 16, Dv = 16;
  std::string layout = "contiguous";  // contiguous | permuted | transposed | fused
  bool mask = false, causal = false, full_masked_batch = false;
  int64_t q_offset = 0;
  int bias = 0;  // 0 none, 1 = [1,H,Tq,Tk], 2 = [B,1,1,Tk]
  float p = 0.f;
  double scale = 0;  // 0 = 1/√D
};

// Every buffer of one run: inputs, outputs and gradients.
template <typename T>
struct Problem {
  Case c;
  Operand<T> q, k, v, bias, out, dout, dq, dk, dv, dbias;
  std::vector<T> lse;
  std::vector<uint8_t> mask;
  AttentionArgs<T> args;

  AttentionGrads<T> grads() {
    AttentionGrads<T> g{out.ptr(), out.s, lse.data(), dout.ptr(), dout.s, dq.ptr(), dq.s,
                        dk.ptr(),  dk.s,  dv.ptr(),   dv.s,        nullptr,    {}};
    if (c.bias) g.dbias = dbias.ptr(), g.sdbias = dbias.s;
    return g;
  }
  // Outputs start as NaN: the kernels must overwrite every element, not accumulate.
  void forward() {
    poison(out), std::fill(lse.begin(), lse.end(), kNaN);
    engine::cpu::attention_forward(args, out.ptr(), out.s, lse.data());
  }
  void backward() {
    poison(dq), poison(dk), poison(dv);
    if (c.bias) poison(dbias);
    engine::cpu::attention_backward(args, grads());
  }
  static constexpr T kNaN = std::numeric_limits<T>::quiet_NaN();
  static void poison(const Operand<T>& o) { std::fill(o.buf->begin(), o.buf->end(), kNaN); }
};

template <typename T>
Operand<T> bias_operand(const Case& c) {
  if (c.bias == 1) {  // T5's relative position bias, shared over the batch
    auto o = contiguous<T>(1, c.H, c.Tq, c.Tk);
    o.s.b = 0;
    return o;
  }
  auto o = contiguous<T>(c.B, 1, 1, c.Tk);  // a padding mask as an additive bias
  o.s.h = o.s.t = 0;
  return o;
}

template <typename T>
Problem<T> make_problem(const Case& c, uint32_t seed = 1) {
  Problem<T> p;
  p.c = c;
  std::mt19937 rng(seed);
  if (c.layout == "fused") {  // q, k, v as slices of one [B,T,3,H,D] projection
    auto qkv = contiguous<T>(c.B, c.Tq, 3 * c.H, c.D);
    Strides4 s{c.Tq * 3 * c.H * c.D, c.D, 3 * c.H * c.D, 1};
    for (int i = 0; i < 3; ++i) {
      Operand<T> o{qkv.buf, i * c.H * c.D, {c.B, c.H, c.Tq, c.D}, s};
      (i == 0 ? p.q : i == 1 ? p.k : p.v) = o;
    }
  } else {
    p.q = with_layout<T>(c.layout, c.B, c.H, c.Tq, c.D);
    p.k = with_layout<T>(c.layout, c.B, c.H, c.Tk, c.D);
    p.v = with_layout<T>(c.layout, c.B, c.H, c.Tk, c.Dv);
  }
  fill(p.q, rng, -1, 1), fill(p.k, rng, -1, 1), fill(p.v, rng, -1, 1);
  p.out = permuted<T>(c.B, c.H, c.Tq, c.Dv);  // strided output, as the model writes it
  p.dout = contiguous<T>(c.B, c.H, c.Tq, c.Dv);
  fill(p.dout, rng, -1, 1);
  p.dq = with_layout<T>(c.layout == "fused" ? "permuted" : c.layout, c.B, c.H, c.Tq, c.D);
  p.dk = contiguous<T>(c.B, c.H, c.Tk, c.D);
  p.dv = permuted<T>(c.B, c.H, c.Tk, c.Dv);
  p.lse.assign(size_t(c.B * c.H * c.Tq), T(0));
  auto& a = p.args;
  a.B = c.B, a.H = c.H, a.Tq = c.Tq, a.Tk = c.Tk, a.D = c.D, a.Dv = c.Dv;
  a.q = p.q.ptr(), a.sq = p.q.s, a.k = p.k.ptr(), a.sk = p.k.s, a.v = p.v.ptr(), a.sv = p.v.s;
  a.scale = T(c.scale ? c.scale : 1.0 / std::sqrt(double(c.D)));
  if (c.bias) {
    p.bias = bias_operand<T>(c), p.dbias = bias_operand<T>(c);
    fill(p.bias, rng, -2, 2);
    a.bias = p.bias.ptr(), a.sbias = p.bias.s;
  }
  if (c.mask) {
    p.mask.assign(size_t(c.B * c.Tk), 1);
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t j = 0; j < c.Tk; ++j)
        p.mask[b * c.Tk + j] = !(c.full_masked_batch && b == 1) && (j % 5 != 0 || j == 0) && j < c.Tk - b;
    a.key_mask = p.mask.data(), a.mask_sb = c.Tk, a.mask_st = 1;
  }
  a.causal = c.causal, a.q_offset = c.q_offset;
  a.dropout_p = c.p, a.seed = 1234, a.offset = 77;
  return p;
}

// Naive double reference with the T×T softmax materialised; returns dense arrays.
struct Reference {
  std::vector<double> out, lse, dq, dk, dv, dbias;
};

template <typename T>
Reference reference(Problem<T>& p) {
  const Case& c = p.c;
  const auto& a = p.args;
  Reference r;
  r.out.assign(size_t(c.B * c.H * c.Tq * c.Dv), 0), r.lse.assign(size_t(c.B * c.H * c.Tq), 0);
  r.dq.assign(size_t(c.B * c.H * c.Tq * c.D), 0), r.dk.assign(size_t(c.B * c.H * c.Tk * c.D), 0);
  r.dv.assign(size_t(c.B * c.H * c.Tk * c.Dv), 0);
  if (c.bias) r.dbias.assign(size_t(p.bias.numel()), 0);
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      std::vector<double> P(size_t(c.Tq * c.Tk), 0), Z(P.size(), 0), dS(P.size(), 0);
      int64_t bh = b * c.H + h;
      for (int64_t i = 0; i < c.Tq; ++i) {
        std::vector<double> s(size_t(c.Tk));
        double mx = ninf;
        for (int64_t j = 0; j < c.Tk; ++j) {
          double x = 0;
          for (int64_t d = 0; d < c.D; ++d) x += double(p.q.at(b, h, i, d)) * double(p.k.at(b, h, j, d));
          x = x * double(a.scale) + (c.bias ? double(p.bias.at(b, h, i, j)) : 0.0);
          bool hidden = (c.mask && !p.mask[b * c.Tk + j]) || (c.causal && j > i + c.q_offset);
          s[j] = hidden ? ninf : x;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < c.Tk; ++j) sum += mx == ninf ? 0 : std::exp(s[j] - mx);
        r.lse[bh * c.Tq + i] = mx == ninf ? ninf : mx + std::log(sum);
        for (int64_t j = 0; j < c.Tk; ++j) {
          P[i * c.Tk + j] = mx == ninf ? 0 : std::exp(s[j] - mx) / sum;
          uint64_t ctr = a.offset + uint64_t((bh * c.Tq + i) * c.Tk + j);
          Z[i * c.Tk + j] = engine::philox_uniform(a.seed, ctr) >= c.p ? 1.0 / (1.0 - c.p) : 0.0;
        }
      }
      for (int64_t i = 0; i < c.Tq; ++i) {
        double delta = 0;
        std::vector<double> dP(size_t(c.Tk));
        for (int64_t j = 0; j < c.Tk; ++j) {
          double pz = P[i * c.Tk + j] * Z[i * c.Tk + j], g = 0;
          for (int64_t e = 0; e < c.Dv; ++e) {
            r.out[(bh * c.Tq + i) * c.Dv + e] += pz * double(p.v.at(b, h, j, e));
            r.dv[(bh * c.Tk + j) * c.Dv + e] += pz * double(p.dout.at(b, h, i, e));
            g += double(p.dout.at(b, h, i, e)) * double(p.v.at(b, h, j, e));
          }
          dP[j] = g * Z[i * c.Tk + j];
          delta += P[i * c.Tk + j] * dP[j];
        }
        for (int64_t j = 0; j < c.Tk; ++j) dS[i * c.Tk + j] = P[i * c.Tk + j] * (dP[j] - delta);
      }
      for (int64_t i = 0; i < c.Tq; ++i)
        for (int64_t j = 0; j < c.Tk; ++j) {
          double ds = dS[i * c.Tk + j];
          for (int64_t d = 0; d < c.D; ++d) {
            r.dq[(bh * c.Tq + i) * c.D + d] += double(a.scale) * ds * double(p.k.at(b, h, j, d));
            r.dk[(bh * c.Tk + j) * c.D + d] += double(a.scale) * ds * double(p.q.at(b, h, i, d));
          }
          if (c.bias == 1) r.dbias[(h * c.Tq + i) * c.Tk + j] += ds;
          if (c.bias == 2) r.dbias[b * c.Tk + j] += ds;
        }
    }
  return r;
}

// Largest |got − ref| over a dense-ordered operand; NaN counts as infinite.
template <typename T>
double max_err(const Operand<T>& got, const std::vector<double>& ref) {
  double worst = 0;
  size_t idx = 0;
  for (int64_t a = 0; a < got.n[0]; ++a)
    for (int64_t b = 0; b < got.n[1]; ++b)
      for (int64_t c = 0; c < got.n[2]; ++c)
        for (int64_t d = 0; d < got.n[3]; ++d, ++idx) {
          double e = std::abs(double(got.at(a, b, c, d)) - ref[idx]);
          worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::max(worst, e);
        }
  return worst;
}

template <typename T>
double lse_err(const std::vector<T>& got, const std::vector<double>& ref) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(ref[i])) {
      if (!(std::isinf(got[i]) && got[i] < 0)) return std::numeric_limits<double>::infinity();
      continue;
    }
    double e = std::abs(double(got[i]) - ref[i]);
    worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::max(worst, e);
  }
  return worst;
}

// Runs forward + backward in T and compares every output with the double reference.
template <typename T>
void check_case(const Case& c, double tol) {
  auto p = make_problem<T>(c);
  p.forward();
  p.backward();
  Reference r = reference(p);
  EXPECT_LE(max_err(p.out, r.out), tol) << "out";
  EXPECT_LE(lse_err(p.lse, r.lse), tol) << "lse";
  EXPECT_LE(max_err(p.dq, r.dq), tol) << "dq";
  EXPECT_LE(max_err(p.dk, r.dk), tol) << "dk";
  EXPECT_LE(max_err(p.dv, r.dv), tol) << "dv";
  if (c.bias) EXPECT_LE(max_err(p.dbias, r.dbias), tol) << "dbias";
}

constexpr double kTolF = 2e-5, kTolD = 1e-12;

TEST(CpuAttention, PlainMatchesReference) {
  engine::test::for_each_simd_target([&] {
    check_case<float>(Case{}, kTolF);
    check_case<double>(Case{}, kTolD);
  });
}

TEST(CpuAttention, SequenceLengthsNotMultiplesOfTheBlock) {
  engine::test::for_each_simd_target([&] {
    check_case<float>(Case{.B = 1, .H = 2, .Tq = 130, .Tk = 67, .D = 8, .Dv = 8}, kTolF);
    check_case<float>(Case{.B = 1, .H = 1, .Tq = 1, .Tk = 129, .D = 8, .Dv = 8}, kTolF);
  });
}

TEST(CpuAttention, PaddingMaskWithFullyMaskedRowsGivesZeros) {
  Case c{.mask = true, .full_masked_batch = true};
  check_case<float>(c, kTolF);
  auto p = make_problem<float>(c);
  p.forward();
  p.backward();
  for (int64_t h = 0; h < c.H; ++h)
    for (int64_t i = 0; i < c.Tq; ++i) {
      EXPECT_EQ(p.out.at(1, h, i, 0), 0.f);
      EXPECT_EQ(p.dq.at(1, h, i, 0), 0.f);
    }
}

TEST(CpuAttention, Causal) {
  engine::test::for_each_simd_target([&] {
    check_case<float>(Case{.Tq = 100, .Tk = 100, .causal = true}, kTolF);
    check_case<double>(Case{.Tq = 70, .Tk = 70, .causal = true, .bias = 1}, kTolD);
  });
}

TEST(CpuAttention, CausalWithQueryOffset) {
  // A KV cache (one new token) and a prefix of 50 keys ahead of 80 queries.
  check_case<float>(Case{.Tq = 1, .Tk = 90, .causal = true, .q_offset = 89}, kTolF);
  check_case<float>(Case{.Tq = 80, .Tk = 130, .causal = true, .q_offset = 50}, kTolF);
  check_case<float>(Case{.Tq = 80, .Tk = 130, .mask = true, .causal = true, .q_offset = 50}, kTolF);
}

TEST(CpuAttention, BroadcastBiasesAndTheirGradients) {
  engine::test::for_each_simd_target([&] {
    check_case<float>(Case{.Tq = 70, .Tk = 90, .bias = 1, .scale = 1.0}, kTolF);   // T5: [1,H,Tq,Tk]
    check_case<float>(Case{.Tq = 70, .Tk = 90, .mask = true, .bias = 2}, kTolF);  // [B,1,1,Tk]
    check_case<double>(Case{.Tq = 70, .Tk = 90, .bias = 2}, kTolD);
  });
}

TEST(CpuAttention, StridedViewsNeedNoCopy) {
  check_case<float>(Case{.Tq = 70, .Tk = 70, .layout = "fused", .causal = true}, kTolF);
  check_case<float>(Case{.Tq = 70, .Tk = 90, .layout = "permuted", .mask = true}, kTolF);
  check_case<float>(Case{.Tq = 70, .Tk = 90, .layout = "transposed", .bias = 1}, kTolF);
}

TEST(CpuAttention, ValueDimDiffersFromKeyDim) {
  engine::test::for_each_simd_target([&] {
    check_case<float>(Case{.Tq = 65, .Tk = 33, .D = 12, .Dv = 20}, kTolF);
    check_case<double>(Case{.Tq = 65, .Tk = 33, .D = 20, .Dv = 7, .causal = true, .q_offset = 0}, kTolD);
  });
}

TEST(CpuAttention, DropoutBackwardUsesTheForwardMask) {
  check_case<float>(Case{.Tq = 70, .Tk = 90, .bias = 1, .p = 0.3f}, kTolF);
  check_case<double>(Case{.Tq = 70, .Tk = 70, .mask = true, .causal = true, .p = 0.5f}, kTolD);
  // The mask depends on the offset: another call draws another mask.
  auto p1 = make_problem<float>(Case{.p = 0.3f}), p2 = make_problem<float>(Case{.p = 0.3f});
  p2.args.offset += uint64_t(p2.c.B * p2.c.H * p2.c.Tq * p2.c.Tk);
  p1.forward(), p2.forward();
  EXPECT_NE(p1.out.at(0, 0, 0, 0), p2.out.at(0, 0, 0, 0));
}

TEST(CpuAttention, NullGradientsAreSkippedAndOthersUnchanged) {
  Case c{.Tq = 70, .Tk = 90, .bias = 1, .p = 0.2f};
  auto full = make_problem<float>(c), part = make_problem<float>(c);
  full.forward(), part.forward();
  full.backward();
  auto g = part.grads();
  g.dq = nullptr, g.dv = nullptr, g.dbias = nullptr;
  std::fill(part.dk.buf->begin(), part.dk.buf->end(), 7.f);
  std::fill(part.dq.buf->begin(), part.dq.buf->end(), 7.f);
  engine::cpu::attention_backward(part.args, g);
  EXPECT_EQ(*part.dk.buf, *full.dk.buf);
  EXPECT_EQ(part.dq.at(0, 0, 0, 0), 7.f);  // untouched
  // dv alone reads neither v nor out.
  g = part.grads();
  g.dq = g.dk = g.dbias = nullptr, g.out = nullptr;
  auto args = part.args;
  args.v = nullptr;
  engine::cpu::attention_backward(args, g);
  EXPECT_EQ(*part.dv.buf, *full.dv.buf);
}

TEST(CpuAttention, BitIdenticalForOneAndTwoThreads) {
  Case c{.B = 3, .Tq = 150, .Tk = 150, .mask = true, .causal = true, .bias = 2, .p = 0.1f};
  auto run = [&](int threads) {
    auto p = make_problem<float>(c);
    tbb::task_arena(threads).execute([&] { p.forward(), p.backward(); });
    return p;
  };
  auto one = run(1), two = run(2);
  EXPECT_EQ(*one.out.buf, *two.out.buf);
  EXPECT_EQ(one.lse, two.lse);
  for (auto [x, y] : {std::pair{&one.dq, &two.dq}, {&one.dk, &two.dk}, {&one.dv, &two.dv}, {&one.dbias, &two.dbias}})
    EXPECT_EQ(0, std::memcmp(x->buf->data(), y->buf->data(), x->buf->size() * sizeof(float)));
}

// Central differences of L = Σ out ⊙ dout with respect to every element of `x`.
void gradcheck(Problem<double>& p, const Operand<double>& x, const Operand<double>& analytic,
               const char* name) {
  auto loss = [&] {
    p.forward();
    double l = 0;
    for (int64_t b = 0; b < p.c.B; ++b)
      for (int64_t h = 0; h < p.c.H; ++h)
        for (int64_t i = 0; i < p.c.Tq; ++i)
          for (int64_t e = 0; e < p.c.Dv; ++e) l += p.out.at(b, h, i, e) * p.dout.at(b, h, i, e);
    return l;
  };
  const double eps = 1e-6;
  for (int64_t a = 0; a < x.n[0]; ++a)
    for (int64_t b = 0; b < x.n[1]; ++b)
      for (int64_t c = 0; c < x.n[2]; ++c)
        for (int64_t d = 0; d < x.n[3]; ++d) {
          double& v = x.at(a, b, c, d), saved = v;
          v = saved + eps;
          double up = loss();
          v = saved - eps;
          double down = loss();
          v = saved;
          EXPECT_NEAR(analytic.at(a, b, c, d), (up - down) / (2 * eps), 1e-7)
              << name << "[" << a << "," << b << "," << c << "," << d << "]";
        }
}

void gradcheck_all(const Case& c) {
  auto p = make_problem<double>(c, 7);
  p.forward();
  p.backward();
  gradcheck(p, p.q, p.dq, "dq");
  gradcheck(p, p.k, p.dk, "dk");
  gradcheck(p, p.v, p.dv, "dv");
  if (c.bias) gradcheck(p, p.bias, p.dbias, "dbias");
}

TEST(CpuAttention, FiniteDifferenceGradcheck) {
  gradcheck_all(Case{.B = 2, .H = 2, .Tq = 3, .Tk = 5, .D = 3, .Dv = 2, .bias = 1});
  gradcheck_all(Case{.B = 2, .H = 2, .Tq = 3, .Tk = 5, .D = 3, .Dv = 4, .layout = "transposed",
                     .mask = true, .causal = true, .q_offset = 1, .bias = 2, .p = 0.3f});
}

}  // namespace
