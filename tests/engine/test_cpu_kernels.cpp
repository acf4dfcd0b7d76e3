// CPU kernels (engine/backend/cpu): float SIMD and double scalar paths against plain double
// references on random and extreme data, odd sizes, double-path gradients against finite
// differences, and bit-identical results for 1 vs 2 threads.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cpu/simd_unary.h"
#include "engine/core/error.h"
#include "simd_targets.h"

namespace {

using engine::cpu::Unary;
using Vec = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<Unary> kAllUnary = {
    Unary::Exp, Unary::Log, Unary::Sqrt, Unary::Rsqrt, Unary::Tanh, Unary::Sigmoid, Unary::Relu,
    Unary::Gelu, Unary::GeluTanh, Unary::Silu, Unary::Neg, Unary::Abs, Unary::Square};

Vec uniform(size_t n, double lo, double hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// Values rounded to float, so float and double kernels see the same inputs.
Vec as_float_values(Vec v) {
  for (auto& x : v) x = double(float(x));
  return v;
}
std::vector<float> to_f(const Vec& v) { return {v.begin(), v.end()}; }
Vec to_d(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Largest |got − ref| / (rtol·|ref| + atol); ≤ 1 passes. Equal infinities and NaNs match.
double err_ratio(const Vec& got, const Vec& ref, double rtol, double atol) {
  EXPECT_EQ(got.size(), ref.size());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(ref[i])) { if (!std::isnan(got[i])) return kInf; continue; }
    if (std::isinf(ref[i])) { if (got[i] != ref[i]) return kInf; continue; }
    worst = std::max(worst, std::fabs(got[i] - ref[i]) / (rtol * std::fabs(ref[i]) + atol));
  }
  return worst;
}

double max_abs(const Vec& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Float results: a few ulp relative, 1e-7 absolute near zero. Double: near round-off.
constexpr double kRtolF = 2e-6, kAtolF = 1e-7, kRtolD = 1e-12, kAtolD = 1e-14;

// ---------------------------------------------------------------- unary references
double ref_forward(Unary op, double x) {
  switch (op) {
    case Unary::Exp: return std::exp(x);
    case Unary::Log: return std::log(x);
    case Unary::Sqrt: return std::sqrt(x);
    case Unary::Rsqrt: return 1 / std::sqrt(x);
    case Unary::Tanh: return std::tanh(x);
    case Unary::Sigmoid: return 1 / (1 + std::exp(-x));
    case Unary::Relu: return x > 0 ? x : 0;
    case Unary::Gelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));  // torch's formula
    case Unary::GeluTanh:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case Unary::Silu: return x / (1 + std::exp(-x));
    case Unary::Neg: return -x;
    case Unary::Abs: return std::fabs(x);
    case Unary::Square: return x * x;
  }
  return 0;
}

bool positive_domain(Unary op) {
  return op == Unary::Log || op == Unary::Sqrt || op == Unary::Rsqrt;
}

// A range where the op is defined and interesting; positive-domain ops get x log-uniform
// in [10^-decades, 10^decades].
Vec unary_inputs(Unary op, size_t n, unsigned seed, double decades = 30) {
  if (positive_domain(op)) {
    Vec e = uniform(n, -decades, decades, seed);
    for (auto& x : e) x = std::pow(10.0, x);
    return as_float_values(e);
  }
  return as_float_values(uniform(n, -12, 12, seed));
}

template <class T>
Vec run_unary(Unary op, const Vec& x) {
  std::vector<T> xs(x.begin(), x.end()), ys(x.size());
  engine::cpu::unary_forward<T>(op, xs.data(), ys.data(), int64_t(x.size()));
  return {ys.begin(), ys.end()};
}

// gy · f'(x) from the kernel, given x and y = f(x).
template <class T>
Vec run_unary_grad(Unary op, const Vec& x, const Vec& y, const Vec& gy) {
  std::vector<T> xs(x.begin(), x.end()), ys(y.begin(), y.end()), gs(gy.begin(), gy.end()),
      gx(x.size());
  engine::cpu::unary_backward<T>(op, engine::cpu::unary_grad_needs_input(op) ? xs.data() : nullptr,
                                 engine::cpu::unary_grad_needs_output(op) ? ys.data() : nullptr,
                                 gs.data(), gx.data(), int64_t(x.size()));
  return {gx.begin(), gx.end()};
}

TEST(CpuKernels, UnaryForwardMatchesDoubleReference) {
  engine::test::for_each_simd_target([&] {
    for (Unary op : kAllUnary) {
      for (size_t n : {1, 3, 15, 17, 1000, 100003}) {
        const Vec x = unary_inputs(op, n, unsigned(n));
        Vec ref(n);
        for (size_t i = 0; i < n; ++i) ref[i] = ref_forward(op, x[i]);
        EXPECT_LE(err_ratio(run_unary<float>(op, x), ref, kRtolF, kAtolF), 1.0)
            << engine::cpu::unary_name(op) << " float n=" << n;
        EXPECT_LE(err_ratio(run_unary<double>(op, x), ref, kRtolD, kAtolD), 1.0)
            << engine::cpu::unary_name(op) << " double n=" << n;
      }
    }
  });
}

TEST(CpuKernels, UnaryExtremeValues) {
  engine::test::for_each_simd_target([&] {
    const double nan = std::nan("");
    struct Case { Unary op; Vec x; };
    const std::vector<Case> cases = {
        {Unary::Exp, {80, 88.5, 88.72, 88.8, 200, -87, -100, -104.5, -1e4, -kInf, kInf, nan}},
        {Unary::Log, {0, 1e-45, 1e-38, 1, 3.4e38, kInf, -1, nan}},
        {Unary::Tanh, {-30, -9.5, -5, 5, 9.5, 18.5, 19, 30, 100}},
        {Unary::Sigmoid, {-200, -88, -30, 30, 88, 200}},
        {Unary::Relu, {-1, 0, 2, nan}},
        {Unary::Gelu, {-30, -14, -9, -5.5, -3, -1.2, 1e-8, 3, 9, 30}},
        {Unary::GeluTanh, {-30, -9, -5.5, -3, 3, 9, 30}},
        {Unary::Silu, {-200, -90, -30, 30, 90, 200}},
        {Unary::Sqrt, {0, kInf}},
    };
    for (const auto& c : cases) {
      const Vec x = as_float_values(c.x);
      Vec ref(x.size());
      for (size_t i = 0; i < x.size(); ++i) ref[i] = double(float(ref_forward(c.op, x[i])));
      EXPECT_LE(err_ratio(run_unary<float>(c.op, x), ref, kRtolF, kAtolF), 1.0)
          << engine::cpu::unary_name(c.op);
    }
  });
}

TEST(CpuKernels, UnaryBackwardMatchesReference) {
  engine::test::for_each_simd_target([&] {
    const double h = 1e-5;
    for (Unary op : kAllUnary) {
      for (size_t n : {1, 17, 1000}) {
        const Vec x = unary_inputs(op, n, 7 + unsigned(n), 6);
        const Vec gy = as_float_values(uniform(n, -2, 2, 11));
        // Double kernel vs central differences of the double forward.
        const Vec y = run_unary<double>(op, x);
        Vec fd(n);
        for (size_t i = 0; i < n; ++i) {
          const double s = h * (positive_domain(op) ? x[i] : std::max(1.0, std::fabs(x[i])));
          fd[i] = gy[i] * (ref_forward(op, x[i] + s) - ref_forward(op, x[i] - s)) / (2 * s);
        }
        const Vec gd = run_unary_grad<double>(op, x, y, gy);
        EXPECT_LE(err_ratio(gd, fd, 1e-6, 1e-9 * (1 + max_abs(fd))), 1.0)
            << engine::cpu::unary_name(op) << " double n=" << n;
        // Float kernel vs the double kernel on the same (float-rounded) x and y.
        const Vec yf = as_float_values(y);
        const Vec gd_same = run_unary_grad<double>(op, x, yf, gy);
        EXPECT_LE(err_ratio(run_unary_grad<float>(op, x, yf, gy), gd_same, 4e-6, kAtolF), 1.0)
            << engine::cpu::unary_name(op) << " float n=" << n;
      }
    }
  });
}

// ---------------------------------------------------------------- softmax
struct Rows { int64_t rows, cols; };
const std::vector<Rows> kShapes = {{4, 1}, {5, 3}, {3, 17}, {6, 1000}, {2, 50257}};

// Random logits with one row scaled to ±1000 (stability) when there are several rows.
Vec logits_for(Rows s, unsigned seed) {
  Vec x = uniform(size_t(s.rows * s.cols), -8, 8, seed);
  if (s.rows > 1)
    for (int64_t j = 0; j < s.cols; ++j) x[j] = (j % 2 ? 1000.0 : -1000.0) + x[j];
  return as_float_values(x);
}

Vec ref_log_softmax(const Vec& x, Rows s) {
  Vec y(x.size());
  for (int64_t r = 0; r < s.rows; ++r) {
    const double* xr = &x[size_t(r * s.cols)];
    const double m = *std::max_element(xr, xr + s.cols);
    double sum = 0;
    for (int64_t j = 0; j < s.cols; ++j) sum += std::exp(xr[j] - m);
    for (int64_t j = 0; j < s.cols; ++j) y[size_t(r * s.cols + j)] = xr[j] - m - std::log(sum);
  }
  return y;
}

template <class T>
Vec run_softmax(const Vec& x, Rows s, bool log) {
  std::vector<T> xs(x.begin(), x.end()), ys(x.size());
  if (log) engine::cpu::log_softmax_forward<T>(xs.data(), ys.data(), s.rows, s.cols);
  else engine::cpu::softmax_forward<T>(xs.data(), ys.data(), s.rows, s.cols);
  return {ys.begin(), ys.end()};
}

template <class T>
Vec run_softmax_grad(const Vec& y, const Vec& gy, Rows s, bool log) {
  std::vector<T> ys(y.begin(), y.end()), gs(gy.begin(), gy.end()), gx(y.size());
  if (log) engine::cpu::log_softmax_backward<T>(ys.data(), gs.data(), gx.data(), s.rows, s.cols);
  else engine::cpu::softmax_backward<T>(ys.data(), gs.data(), gx.data(), s.rows, s.cols);
  return {gx.begin(), gx.end()};
}

TEST(CpuKernels, SoftmaxForwardMatchesReference) {
  engine::test::for_each_simd_target([&] {
    for (Rows s : kShapes) {
      const Vec x = logits_for(s, unsigned(s.cols));
      const Vec ls = ref_log_softmax(x, s);
      Vec sm(ls.size());
      for (size_t i = 0; i < ls.size(); ++i) sm[i] = std::exp(ls[i]);
      // log_softmax = x − lse loses |lse|·ulp absolutely: scale atol by the logits' size.
      const double atol_log = 2e-7 * (1 + max_abs(x));
      EXPECT_LE(err_ratio(run_softmax<float>(x, s, false), sm, kRtolF, 1e-9), 1.0) << s.cols;
      EXPECT_LE(err_ratio(run_softmax<float>(x, s, true), ls, kRtolF, atol_log), 1.0) << s.cols;
      EXPECT_LE(err_ratio(run_softmax<double>(x, s, false), sm, 1e-11, 1e-300), 1.0) << s.cols;
      EXPECT_LE(err_ratio(run_softmax<double>(x, s, true), ls, 1e-12, 1e-12 * (1 + max_abs(x))), 1.0);
    }
  });
}

TEST(CpuKernels, SoftmaxBackwardMatchesReference) {
  engine::test::for_each_simd_target([&] {
    for (Rows s : kShapes) {
      for (bool log : {false, true}) {
        const Vec x = logits_for(s, 3 + unsigned(s.cols));
        const Vec gy = as_float_values(uniform(x.size(), -1, 1, 5));
        const Vec y = as_float_values(run_softmax<double>(x, s, log));
        Vec ref(x.size());  // the textbook formulas, row by row
        for (int64_t r = 0; r < s.rows; ++r) {
          const size_t o = size_t(r * s.cols);
          double dot = 0;
          for (int64_t j = 0; j < s.cols; ++j) dot += log ? gy[o + j] : gy[o + j] * y[o + j];
          for (int64_t j = 0; j < s.cols; ++j)
            ref[o + j] = log ? gy[o + j] - std::exp(y[o + j]) * dot : y[o + j] * (gy[o + j] - dot);
        }
        const double atol = 1e-6 * (1 + max_abs(ref));  // Σ over a row cancels
        EXPECT_LE(err_ratio(run_softmax_grad<float>(y, gy, s, log), ref, kRtolF, atol), 1.0)
            << s.cols << (log ? " log" : "");
        EXPECT_LE(err_ratio(run_softmax_grad<double>(y, gy, s, log), ref, 1e-12, 1e-13), 1.0);
      }
    }
  });
}

// ---------------------------------------------------------------- layer_norm / rms_norm
struct NormCase {
  Rows s;
  bool center, affine;  // center: LayerNorm (else RMSNorm); affine: gamma (and beta) given
};

struct NormResult { Vec y, stat_mean, stat_rstd, gx, dgamma, dbeta; };

// Runs forward then backward through the kernels in T.
template <class T>
NormResult run_norm(const NormCase& c, const Vec& x, const Vec& gamma, const Vec& beta,
                    const Vec& gy, double eps) {
  const int64_t R = c.s.rows, C = c.s.cols;
  std::vector<T> xs(x.begin(), x.end()), g(gamma.begin(), gamma.end()), b(beta.begin(), beta.end()),
      gs(gy.begin(), gy.end()), y(x.size()), mean(R), rstd(R), gx(x.size()),
      dg(C), db(C);
  const T* gp = c.affine ? g.data() : nullptr;
  if (c.center) {
    const T* bp = c.affine ? b.data() : nullptr;
    engine::cpu::layer_norm_forward<T>(xs.data(), gp, bp, eps, y.data(), mean.data(), rstd.data(), R, C);
    engine::cpu::layer_norm_backward<T>(xs.data(), gp, mean.data(), rstd.data(), gs.data(), gx.data(),
                                        dg.data(), db.data(), R, C);
  } else {
    engine::cpu::rms_norm_forward<T>(xs.data(), gp, eps, y.data(), rstd.data(), R, C);
    engine::cpu::rms_norm_backward<T>(xs.data(), gp, rstd.data(), gs.data(), gx.data(), dg.data(), R, C);
  }
  auto d = [](const std::vector<T>& v) { return Vec(v.begin(), v.end()); };
  return {d(y), d(mean), d(rstd), d(gx), d(dg), d(db)};
}

// Plain double reference: forward by definition, backward by the chain rule written out.
NormResult ref_norm(const NormCase& c, const Vec& x, const Vec& gamma, const Vec& beta,
                    const Vec& gy, double eps) {
  const int64_t R = c.s.rows, C = c.s.cols;
  NormResult o{Vec(x.size()), Vec(size_t(R)), Vec(size_t(R)), Vec(x.size()), Vec(size_t(C)), Vec(size_t(C))};
  for (int64_t r = 0; r < R; ++r) {
    const size_t b0 = size_t(r * C);
    double mu = 0, var = 0;
    if (c.center) for (int64_t j = 0; j < C; ++j) mu += x[b0 + j] / double(C);
    for (int64_t j = 0; j < C; ++j) var += (x[b0 + j] - mu) * (x[b0 + j] - mu) / double(C);
    const double rs = 1 / std::sqrt(var + eps);
    o.stat_mean[size_t(r)] = mu;
    o.stat_rstd[size_t(r)] = rs;
    double sg = 0, sgx = 0;
    for (int64_t j = 0; j < C; ++j) {
      const double xh = (x[b0 + j] - mu) * rs, w = c.affine ? gamma[size_t(j)] : 1.0;
      o.y[b0 + j] = xh * w + (c.affine && c.center ? beta[size_t(j)] : 0.0);
      sg += gy[b0 + j] * w;
      sgx += gy[b0 + j] * w * xh;
      o.dgamma[size_t(j)] += gy[b0 + j] * xh;
      o.dbeta[size_t(j)] += gy[b0 + j];
    }
    for (int64_t j = 0; j < C; ++j) {
      const double xh = (x[b0 + j] - mu) * rs, w = c.affine ? gamma[size_t(j)] : 1.0;
      o.gx[b0 + j] = rs * (gy[b0 + j] * w - (c.center ? sg / double(C) : 0.0) - xh * sgx / double(C));
    }
  }
  return o;
}

const std::vector<NormCase> kNormCases = {
    {{4, 1}, true, true},     {{5, 3}, true, false},    {{3, 17}, true, true},
    {{70, 768}, true, true},  {{6, 1000}, true, false}, {{5, 3}, false, true},
    {{3, 17}, false, false},  {{70, 768}, false, true}, {{6, 1000}, false, true}};

TEST(CpuKernels, NormsMatchReference) {
  engine::test::for_each_simd_target([&] {
    for (const NormCase& c : kNormCases) {
      const size_t n = size_t(c.s.rows * c.s.cols), C = size_t(c.s.cols);
      // A large common offset tests that the variance is not computed as E[x²] − E[x]².
      Vec x = uniform(n, -2, 2, 1 + unsigned(C));
      for (auto& v : x) v += c.center ? 30.0 : 0.0;
      x = as_float_values(x);
      const Vec gamma = as_float_values(uniform(C, 0.5, 1.5, 2)),
                beta = as_float_values(uniform(C, -1, 1, 3)),
                gy = as_float_values(uniform(n, -1, 1, 4));
      const NormResult ref = ref_norm(c, x, gamma, beta, gy, 1e-5);
      const NormResult f = run_norm<float>(c, x, gamma, beta, gy, 1e-5);
      const NormResult d = run_norm<double>(c, x, gamma, beta, gy, 1e-5);
      const std::string what = std::to_string(c.s.rows) + "x" + std::to_string(c.s.cols) +
                               (c.center ? " layer_norm" : " rms_norm");
      auto check = [&](const Vec& got, const Vec& want, double rtol, double atol_scale,
                       const char* name) {
        EXPECT_LE(err_ratio(got, want, rtol, atol_scale * (1 + max_abs(want))), 1.0) << what << " " << name;
      };
      // Float: a few ulp on the outputs; gradients are sums that cancel, so tolerance scales
      // with the magnitude of the whole tensor (x carries a common offset of 30σ for layer_norm).
      check(f.y, ref.y, 1e-5, 2e-6, "y");
      check(f.stat_rstd, ref.stat_rstd, 1e-5, 0, "rstd");
      check(f.gx, ref.gx, 1e-4, 2e-5, "gx");
      check(f.dgamma, ref.dgamma, 1e-4, 1e-5, "dgamma");
      check(d.y, ref.y, 1e-9, 1e-12, "y (f64)");
      check(d.gx, ref.gx, 1e-9, 1e-12, "gx (f64)");
      check(d.dgamma, ref.dgamma, 1e-9, 1e-12, "dgamma (f64)");
      if (c.center) {
        check(f.dbeta, ref.dbeta, 1e-5, 1e-6, "dbeta");
        check(d.dbeta, ref.dbeta, 1e-12, 1e-13, "dbeta (f64)");
      }
    }
  });
}

// Central differences of L = Σ w⊙norm(x; gamma, beta) in double, for each input.
TEST(CpuKernels, NormDoubleGradientsMatchFiniteDifferences) {
  for (bool center : {true, false}) {
    const NormCase c{{3, 5}, center, true};
    const size_t n = 15, C = 5;
    Vec x = uniform(n, -2, 2, 21), gamma = uniform(C, 0.5, 1.5, 22), beta = uniform(C, -1, 1, 23);
    const Vec w = uniform(n, -1, 1, 24);
    const NormResult an = run_norm<double>(c, x, gamma, beta, w, 1e-3);
    auto loss = [&] {
      const Vec y = run_norm<double>(c, x, gamma, beta, w, 1e-3).y;
      double l = 0;
      for (size_t i = 0; i < n; ++i) l += w[i] * y[i];
      return l;
    };
    auto fd = [&](Vec& p) {
      Vec g(p.size());
      for (size_t i = 0; i < p.size(); ++i) {
        const double keep = p[i], h = 1e-6;
        p[i] = keep + h; const double a = loss();
        p[i] = keep - h; const double b = loss();
        p[i] = keep;
        g[i] = (a - b) / (2 * h);
      }
      return g;
    };
    EXPECT_LE(err_ratio(an.gx, fd(x), 1e-6, 1e-8), 1.0) << center;
    EXPECT_LE(err_ratio(an.dgamma, fd(gamma), 1e-6, 1e-8), 1.0) << center;
    if (center) EXPECT_LE(err_ratio(an.dbeta, fd(beta), 1e-6, 1e-8), 1.0);
  }
}

// A frozen LayerNorm asks for gx only; a norm whose input needs no gradient asks for the
// parameter gradients only. Each output must equal the all-outputs result.
TEST(CpuKernels, NormBackwardOutputsAreIndependentlyOptional) {
  const int64_t R = 100, C = 33;
  const std::vector<float> x = to_f(uniform(size_t(R * C), -2, 2, 31)), gamma = to_f(uniform(C, 0.5, 1.5, 32)),
                           gy = to_f(uniform(size_t(R * C), -1, 1, 33));
  std::vector<float> y(x.size()), mean(R), rstd(R), gx(x.size()), dg(C), db(C);
  engine::cpu::layer_norm_forward<float>(x.data(), gamma.data(), nullptr, 1e-5, y.data(), mean.data(), rstd.data(), R, C);
  engine::cpu::layer_norm_backward<float>(x.data(), gamma.data(), mean.data(), rstd.data(), gy.data(), gx.data(), dg.data(), db.data(), R, C);
  std::vector<float> gx2(x.size(), -7.f), dg2(C, -7.f), db2(C, -7.f);
  engine::cpu::layer_norm_backward<float>(x.data(), gamma.data(), mean.data(), rstd.data(), gy.data(), gx2.data(), nullptr, nullptr, R, C);
  engine::cpu::layer_norm_backward<float>(x.data(), gamma.data(), mean.data(), rstd.data(), gy.data(), nullptr, dg2.data(), nullptr, R, C);
  engine::cpu::layer_norm_backward<float>(x.data(), gamma.data(), mean.data(), rstd.data(), gy.data(), nullptr, nullptr, db2.data(), R, C);
  EXPECT_EQ(gx, gx2);
  EXPECT_EQ(dg, dg2);
  EXPECT_EQ(db, db2);
}

// ---------------------------------------------------------------- cross-entropy
struct XentRef { Vec loss, lse, gx; };

// torch semantics, written out: loss = (1−ε)(lse − x_t) + ε·mean_c(lse − x_c).
// gx is computed from `lse_for_grad` when given (a float kernel's own saved lse, so that the
// check isolates the backward from the forward's lse rounding at |logits| ~ 1000).
XentRef ref_xent(const Vec& x, const std::vector<int64_t>& t, const Vec& g, int64_t g_stride,
                 Rows s, const engine::cpu::CrossEntropyOptions& o, const Vec* lse_for_grad = nullptr) {
  XentRef r{Vec(size_t(s.rows)), Vec(size_t(s.rows)), Vec(x.size())};
  const Vec ls = ref_log_softmax(x, s);
  const double eps = o.label_smoothing;
  for (int64_t i = 0; i < s.rows; ++i) {
    const size_t b0 = size_t(i * s.cols);
    r.lse[size_t(i)] = x[b0] - ls[b0];  // log_softmax → lse
    if (t[size_t(i)] == o.ignore_index) continue;
    double mean_nlp = 0;
    for (int64_t j = 0; j < s.cols; ++j) mean_nlp += (r.lse[size_t(i)] - x[b0 + size_t(j)]) / double(s.cols);
    r.loss[size_t(i)] = (1 - eps) * (r.lse[size_t(i)] - x[b0 + size_t(t[size_t(i)])]) + eps * mean_nlp;
    const double gi = g[size_t(i * g_stride)];
    const double lse = lse_for_grad ? (*lse_for_grad)[size_t(i)] : r.lse[size_t(i)];
    for (int64_t j = 0; j < s.cols; ++j) {
      const double target = (1 - eps) * (j == t[size_t(i)]) + eps / double(s.cols);
      r.gx[b0 + size_t(j)] = (std::exp(x[b0 + size_t(j)] - lse) - target) * gi;
    }
  }
  return r;
}

template <class T>
XentRef run_xent(const Vec& x, const std::vector<int64_t>& t, const Vec& g, int64_t g_stride,
                 Rows s, const engine::cpu::CrossEntropyOptions& o) {
  std::vector<T> xs(x.begin(), x.end()), gs(g.begin(), g.end()), loss(size_t(s.rows)),
      lse(size_t(s.rows)), gx(x.size());
  engine::cpu::cross_entropy_forward<T>(xs.data(), t.data(), loss.data(), lse.data(), s.rows, s.cols, o);
  engine::cpu::cross_entropy_backward<T>(xs.data(), t.data(), lse.data(), gs.data(), g_stride,
                                         gx.data(), s.rows, s.cols, o);
  auto d = [](const std::vector<T>& v) { return Vec(v.begin(), v.end()); };
  return {d(loss), d(lse), d(gx)};
}

TEST(CpuKernels, CrossEntropyMatchesReference) {
  engine::test::for_each_simd_target([&] {
    for (Rows s : kShapes) {
      for (double eps : {0.0, 0.1}) {
        for (int64_t g_stride : {0, 1}) {
          const Vec x = logits_for(s, 41 + unsigned(s.cols));
          std::vector<int64_t> t(size_t(s.rows));
          for (int64_t i = 0; i < s.rows; ++i) t[size_t(i)] = (i * 7919) % s.cols;
          if (s.rows > 2) t[1] = -100;  // ignored
          const Vec g = as_float_values(uniform(size_t(s.rows), 0.1, 2, 42));
          const engine::cpu::CrossEntropyOptions o{-100, eps};
          const XentRef ref = ref_xent(x, t, g, g_stride, s, o);
          const XentRef f = run_xent<float>(x, t, g, g_stride, s, o);
          const XentRef d = run_xent<double>(x, t, g, g_stride, s, o);
          const std::string what = std::to_string(s.cols) + " eps=" + std::to_string(eps);
          const double atol = 2e-7 * (1 + max_abs(x));  // lse ≈ |x|: absolute error ~ulp(lse)
          EXPECT_LE(err_ratio(f.lse, ref.lse, kRtolF, atol), 1.0) << what;
          EXPECT_LE(err_ratio(f.loss, ref.loss, kRtolF, 4 * atol), 1.0) << what;
          const XentRef ref_f = ref_xent(x, t, g, g_stride, s, o, &f.lse);
          EXPECT_LE(err_ratio(f.gx, ref_f.gx, 1e-5, 3e-7), 1.0) << what;
          EXPECT_LE(err_ratio(d.loss, ref.loss, 1e-12, 1e-12 * (1 + max_abs(x))), 1.0) << what;
          EXPECT_LE(err_ratio(d.gx, ref.gx, 1e-10, 1e-14), 1.0) << what;
        }
      }
    }
  });
}

TEST(CpuKernels, CrossEntropyRejectsOutOfRangeTarget) {
  const std::vector<float> x(6, 0.f);
  std::vector<float> loss(2), lse(2);
  const std::vector<int64_t> bad = {1, 3};  // cols = 3
  EXPECT_THROW(engine::cpu::cross_entropy_forward<float>(x.data(), bad.data(), loss.data(), lse.data(), 2, 3, {}),
               engine::IndexError);
  const std::vector<int64_t> ok = {-100, 2};
  EXPECT_NO_THROW(engine::cpu::cross_entropy_forward<float>(x.data(), ok.data(), loss.data(), lse.data(), 2, 3, {}));
  EXPECT_EQ(loss[0], 0.f);
  EXPECT_NEAR(loss[1], std::log(3.0), 1e-6);
}

// ---------------------------------------------------------------- determinism
// Runs f under 1 and under 2 threads; the float outputs must match bit for bit.
void expect_same_bits_1_vs_2_threads(const std::function<std::vector<float>()>& f, const char* what) {
  std::vector<float> one, two;
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
    one = f();
  }
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
    two = f();
  }
  ASSERT_EQ(one.size(), two.size()) << what;
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0) << what;
}

TEST(CpuKernels, BitIdenticalWithOneOrTwoThreads) {
  engine::test::for_each_simd_target([&] {
    const int64_t R = 3001, C = 77;  // many row blocks for the parameter-gradient partial sums
    const std::vector<float> x = to_f(uniform(size_t(R * C), -4, 4, 51)),
                             gy = to_f(uniform(size_t(R * C), -1, 1, 52)),
                             gamma = to_f(uniform(size_t(C), 0.5, 1.5, 53));
    std::vector<int64_t> t(R);
    for (int64_t i = 0; i < R; ++i) t[size_t(i)] = i % C;
    const int64_t n = R * C;
    for (Unary op : kAllUnary) {
      expect_same_bits_1_vs_2_threads([&] {
        std::vector<float> y(x.size()), g(x.size());
        engine::cpu::unary_forward<float>(op, x.data(), y.data(), n);
        engine::cpu::unary_backward<float>(op, x.data(), y.data(), gy.data(), g.data(), n);
        y.insert(y.end(), g.begin(), g.end());
        return y;
      }, engine::cpu::unary_name(op));
    }
    expect_same_bits_1_vs_2_threads([&] {
      std::vector<float> y(x.size()), g(x.size());
      engine::cpu::softmax_forward<float>(x.data(), y.data(), R, C);
      engine::cpu::softmax_backward<float>(y.data(), gy.data(), g.data(), R, C);
      return g;
    }, "softmax");
    expect_same_bits_1_vs_2_threads([&] {
      std::vector<float> y(x.size()), mean(R), rstd(R), gx(x.size()), dg(C), db(C);
      engine::cpu::layer_norm_forward<float>(x.data(), gamma.data(), gamma.data(), 1e-5, y.data(), mean.data(), rstd.data(), R, C);
      engine::cpu::layer_norm_backward<float>(x.data(), gamma.data(), mean.data(), rstd.data(), gy.data(), gx.data(), dg.data(), db.data(), R, C);
      gx.insert(gx.end(), dg.begin(), dg.end());
      gx.insert(gx.end(), db.begin(), db.end());
      return gx;
    }, "layer_norm");
    expect_same_bits_1_vs_2_threads([&] {
      std::vector<float> y(x.size()), rstd(R), gx(x.size()), dw(C);
      engine::cpu::rms_norm_forward<float>(x.data(), gamma.data(), 1e-6, y.data(), rstd.data(), R, C);
      engine::cpu::rms_norm_backward<float>(x.data(), gamma.data(), rstd.data(), gy.data(), gx.data(), dw.data(), R, C);
      gx.insert(gx.end(), dw.begin(), dw.end());
      return gx;
    }, "rms_norm");
    expect_same_bits_1_vs_2_threads([&] {
      std::vector<float> loss(R), lse(R), gx(x.size());
      const float g = 1.f / float(R);
      engine::cpu::cross_entropy_forward<float>(x.data(), t.data(), loss.data(), lse.data(), R, C, {-100, 0.1});
      engine::cpu::cross_entropy_backward<float>(x.data(), t.data(), lse.data(), &g, 0, gx.data(), R, C, {-100, 0.1});
      gx.insert(gx.end(), loss.begin(), loss.end());
      return gx;
    }, "cross_entropy");
  });
}

}  // namespace
