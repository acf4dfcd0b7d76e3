// The per-element maths of the CUDA kernels (engine/backend/cuda/elementwise_math.h, compiled
// for host and device) checked on the CPU against the CPU backend: these run everywhere, so
// the GPU kernels' arithmetic, NaN/±0/inf rules, integer semantics, arg-max tie-breaking and
// strided indexing (layout.h) are verified even on machines without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "engine/backend/cpu/simd_unary.h"
#include "engine/backend/cuda/elementwise_math.h"
#include "engine/backend/cuda/layout.h"
#include "engine/engine.h"

using namespace engine;
namespace k = engine::cuda::kernels;

namespace {

bool same_bits(float a, float b) { return (a != a && b != b) || std::memcmp(&a, &b, sizeof a) == 0; }

// A few f32 ulps apart (relative 2e-6), or the same infinity / both NaN (log(0), rsqrt(0), ...).
bool close(float a, float b) {
  if (std::isinf(a) || std::isinf(b) || a != a || b != b) return same_bits(a, b);
  return std::fabs(a - b) <= 2e-6f * (1 + std::fabs(b));
}

// Every pair of values with the special cases the kernels must treat as the CPU does.
std::pair<std::vector<float>, std::vector<float>> float_pairs() {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> v = {0.f, -0.f, 1.f, -1.f, 2.5f, -3.75f, 0.5f, 1e-30f, -1e30f, 3.f, inf, -inf, nan};
  std::vector<float> a, b;
  for (float x : v)
    for (float y : v) a.push_back(x), b.push_back(y);
  return {a, b};
}

using TensorFn = std::function<Tensor(const Tensor&, const Tensor&)>;

}  // namespace

TEST(CudaMath, BinaryOpsMatchTheCpuBackendBitForBit) {
  auto [xa, xb] = float_pairs();
  const Shape s{int64_t(xa.size())};
  Tensor a = from_vector(xa, s), b = from_vector(xb, s);
  const std::vector<std::tuple<const char*, k::BinOp, TensorFn>> ops = {
      {"add", k::BinOp::Add, [](auto& x, auto& y) { return add(x, y); }},
      {"sub", k::BinOp::Sub, [](auto& x, auto& y) { return sub(x, y); }},
      {"mul", k::BinOp::Mul, [](auto& x, auto& y) { return mul(x, y); }},
      {"div", k::BinOp::Div, [](auto& x, auto& y) { return div(x, y); }},
      {"pow", k::BinOp::Pow, [](auto& x, auto& y) { return pow(x, y); }},
      {"maximum", k::BinOp::Max, [](auto& x, auto& y) { return maximum(x, y); }},
      {"minimum", k::BinOp::Min, [](auto& x, auto& y) { return minimum(x, y); }},
  };
  for (const auto& [name, op, fn] : ops) {
    auto cpu = fn(a, b).to_vector<float>();
    for (size_t i = 0; i < xa.size(); ++i)
      EXPECT_TRUE(same_bits(k::binary_op<float>(op, xa[i], xb[i]), cpu[i]))
          << name << "(" << xa[i] << ", " << xb[i] << "): device maths " << k::binary_op<float>(op, xa[i], xb[i])
          << ", cpu " << cpu[i];
  }
}

TEST(CudaMath, ComparisonsMatchTheCpuBackend) {
  auto [xa, xb] = float_pairs();
  const Shape s{int64_t(xa.size())};
  Tensor a = from_vector(xa, s), b = from_vector(xb, s);
  const std::vector<std::tuple<const char*, k::CmpOp, TensorFn>> ops = {
      {"eq", k::CmpOp::Eq, [](auto& x, auto& y) { return eq(x, y); }},
      {"ne", k::CmpOp::Ne, [](auto& x, auto& y) { return ne(x, y); }},
      {"lt", k::CmpOp::Lt, [](auto& x, auto& y) { return lt(x, y); }},
      {"le", k::CmpOp::Le, [](auto& x, auto& y) { return le(x, y); }},
      {"gt", k::CmpOp::Gt, [](auto& x, auto& y) { return gt(x, y); }},
      {"ge", k::CmpOp::Ge, [](auto& x, auto& y) { return ge(x, y); }},
      {"logical_and", k::CmpOp::And, [](auto& x, auto& y) { return logical_and(x, y); }},
  };
  for (const auto& [name, op, fn] : ops) {
    auto cpu = fn(a, b).to_vector<bool>();
    for (size_t i = 0; i < xa.size(); ++i)
      EXPECT_EQ(k::compare_op<float>(op, xa[i], xb[i]), bool(cpu[i])) << name << "(" << xa[i] << ", " << xb[i] << ")";
  }
}

// Integers compute in themselves (bool as int32, stored as != 0), as the CPU's i64/bool map2.
TEST(CudaMath, IntegerAndBoolSemanticsMatchTheCpuBackend) {
  std::vector<int64_t> xa, xb;
  for (int64_t x : {-7, -1, 0, 1, 2, 3, 10})
    for (int64_t y : {-3, -1, 1, 2, 5}) xa.push_back(x), xb.push_back(y);  // no division by zero
  const Shape s{int64_t(xa.size())};
  Tensor a = from_vector(xa, s), b = from_vector(xb, s);
  auto check = [&](const char* name, k::BinOp op, const Tensor& cpu_out, bool nonneg_exponent = false) {
    auto cpu = cpu_out.to_vector<int64_t>();
    for (size_t i = 0; i < xa.size(); ++i) {
      if (nonneg_exponent && xb[i] < 0 && xa[i] == 0) continue;  // 0^-n is inf: no integer
      EXPECT_EQ(k::binary_op<int64_t>(op, xa[i], xb[i]), cpu[i]) << name << "(" << xa[i] << ", " << xb[i] << ")";
    }
  };
  check("add", k::BinOp::Add, add(a, b));
  check("div", k::BinOp::Div, div(a, b));
  check("maximum", k::BinOp::Max, maximum(a, b));
  Tensor bpos = maximum(b, from_vector(std::vector<int64_t>{0}, {1}));
  {
    auto cpu = pow(a, bpos).to_vector<int64_t>();
    auto e = bpos.to_vector<int64_t>();
    for (size_t i = 0; i < xa.size(); ++i)
      EXPECT_EQ(k::binary_op<int64_t>(k::BinOp::Pow, xa[i], e[i]), cpu[i]) << "pow(" << xa[i] << ", " << e[i] << ")";
  }
  std::vector<bool> ba = {false, false, true, true}, bb = {false, true, false, true};
  Tensor p = from_vector(ba, {4}), q = from_vector(bb, {4});
  auto sum_b = add(p, q).to_vector<bool>(), diff_b = sub(p, q).to_vector<bool>();
  auto and_b = logical_and(p, q).to_vector<bool>();
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(k::binary_op<int32_t>(k::BinOp::Add, ba[i], bb[i]) != 0, bool(sum_b[i])) << i;
    EXPECT_EQ(k::binary_op<int32_t>(k::BinOp::Sub, ba[i], bb[i]) != 0, bool(diff_b[i])) << i;
    EXPECT_EQ(k::compare_op<int32_t>(k::CmpOp::And, ba[i], bb[i]), bool(and_b[i])) << i;
  }
}

// The activations and derivatives in f32 against the CPU's SIMD kernels (which may use other
// polynomial approximations: a few f32 ulps apart).
TEST(CudaMath, UnaryValuesAndDerivativesMatchTheCpuKernels) {
  using U = cpu::Unary;
  for (U op : {U::Exp, U::Log, U::Sqrt, U::Rsqrt, U::Tanh, U::Sigmoid, U::Relu, U::Gelu, U::GeluTanh, U::Silu,
               U::Neg, U::Abs, U::Square}) {
    const bool positive = op == U::Log || op == U::Sqrt || op == U::Rsqrt;
    std::vector<float> x;
    for (int i = 0; i <= 400; ++i) x.push_back(positive ? 0.05f + 0.02f * float(i) : -6.f + 0.03f * float(i));
    x.push_back(0.f);
    const int64_t n = int64_t(x.size());
    std::vector<float> y(x.size()), gy(x.size(), 1.f), gx(x.size());
    cpu::unary_forward<float>(op, x.data(), y.data(), n);
    cpu::unary_backward<float>(op, x.data(), y.data(), gy.data(), gx.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      const float dv = k::unary_value(op, x[i]), dd = k::unary_derivative(op, x[i], y[i]);
      EXPECT_TRUE(close(dv, y[i])) << cpu::unary_name(op) << "(" << x[i] << "): " << dv << " vs " << y[i];
      EXPECT_TRUE(close(dd, gx[i])) << cpu::unary_name(op) << "'(" << x[i] << "): " << dd << " vs " << gx[i];
    }
  }
}

// The GPU reduces arg-max candidates in a tree (strided per-thread partials, then a shared-memory
// tree) while the CPU scans in order: argmax_pick must make both give the CPU's value and index,
// with ties (first index wins) and NaNs (the first NaN wins), whatever the order.
TEST(CudaMath, ArgMaxPickGivesTheCpuAnswerInAnyReductionOrder) {
  std::mt19937 rng(5);
  const int64_t rows = 64, cols = 97;
  std::vector<float> x(size_t(rows * cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(rng() % 5)) - 2.f;  // many ties
  for (int64_t r = 0; r < rows; r += 3) x[size_t(r * cols + int64_t(rng() % cols))] = NAN;
  for (int64_t r = 0; r < rows; r += 6) x[size_t(r * cols + int64_t(rng() % cols))] = NAN;  // two NaNs
  auto res = max(from_vector(x, {rows, cols}), 1);
  auto want_v = res.values.to_vector<float>();
  auto want_i = res.indices.to_vector<int64_t>();
  using M = k::ArgMax<float>;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * cols;
    // As max_block_kernel with 8 threads: strided partials, then a halving tree.
    std::vector<M> part(8, M{0.f, -1});
    for (int64_t c = 0; c < cols; ++c) part[size_t(c % 8)] = k::argmax_pick(part[size_t(c % 8)], M{row[c], c});
    for (size_t s = 4; s > 0; s /= 2)
      for (size_t t = 0; t < s; ++t) part[t] = k::argmax_pick(part[t], part[t + s]);
    // And a random order.
    std::vector<int64_t> order(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) order[size_t(c)] = c;
    std::shuffle(order.begin(), order.end(), rng);
    M shuffled{0.f, -1};
    for (int64_t c : order) shuffled = k::argmax_pick(M{row[c], c}, shuffled);
    for (const M& got : {part[0], shuffled}) {
      EXPECT_EQ(got.i, want_i[size_t(r)]) << "row " << r;
      EXPECT_TRUE(same_bits(got.v, want_v[size_t(r)])) << "row " << r << ": " << got.v << " vs " << want_v[size_t(r)];
    }
  }
}

// Every strided kernel maps a linear index to operand offsets through build_layout's merged
// Layout: checked against plain row-major unravelling with the original strides, on random
// shapes (size-1 dims, broadcast zeros, transposes, slices) for four operands.
TEST(CudaMath, LayoutOffsetsMatchPlainStridedIndexing) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t nd = 1 + rng() % 6;
    std::vector<int64_t> shape(nd);
    for (auto& s : shape) s = 1 + int64_t(rng() % 4);
    std::vector<std::vector<int64_t>> st(4);
    for (size_t k = 0; k < 4; ++k) {  // a dense, permuted, sliced or broadcast layout of `shape`
      std::vector<size_t> perm(nd);
      for (size_t d = 0; d < nd; ++d) perm[d] = d;
      if (rng() % 2) std::shuffle(perm.begin(), perm.end(), rng);
      st[k].assign(nd, 0);
      int64_t step = 1 + int64_t(rng() % 2);  // 2: every other element (a slice)
      for (size_t j = nd; j-- > 0;) {
        const size_t d = perm[j];
        st[k][d] = rng() % 5 == 0 ? 0 : step;  // some dims broadcast
        step *= shape[d] + int64_t(rng() % 2);  // sometimes padded rows
      }
    }
    k::Layout l;
    ASSERT_TRUE(k::build_layout(l, shape, {st[0], st[1], st[2], st[3]}));
    EXPECT_LE(l.ndim, int(nd));
    int64_t numel = 1;
    for (int64_t s : shape) numel *= s;
    for (int64_t i = 0; i < numel; ++i) {
      int64_t want[4] = {0, 0, 0, 0}, rem = i;
      for (size_t d = nd; d-- > 0;) {
        const int64_t idx = rem % shape[d];
        rem /= shape[d];
        for (size_t k = 0; k < 4; ++k) want[k] += idx * st[k][d];
      }
      int64_t got[4];
      k::offsets<4>(l, i, got);
      for (size_t k = 0; k < 4; ++k) ASSERT_EQ(got[k], want[k]) << "trial " << trial << " index " << i << " operand " << k;
    }
  }
  // A dense tensor merges to one dim; a transposed one keeps two.
  k::Layout dense, transposed;
  ASSERT_TRUE(k::build_layout(dense, {4, 5, 6}, {{30, 6, 1}, {30, 6, 1}}));
  EXPECT_EQ(dense.ndim, 1);
  ASSERT_TRUE(k::build_layout(transposed, {4, 5}, {{5, 1}, {1, 4}}));
  EXPECT_EQ(transposed.ndim, 2);
}
