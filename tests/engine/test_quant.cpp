// Quantized weights (engine/quant): NF4 codes and double-quantized scales against the math in
// quantized.h, int8 round-trip bounds, storage sizes, quantized_linear against the dense
// linear with the dequantized weight (values, dx, db, counters), and typed errors.
#include <gtest/gtest.h>

#include <cmath>

#include "hwy/targets.h"

#include "engine/backend/cpu/threading.h"
#include "engine/engine.h"
#include "engine/ops/linalg.h"
#include "engine/quant/quantized.h"

using namespace engine;
using namespace engine::quant;

namespace {

// A weight whose rows have different magnitudes, so block absmax differ (within a factor of
// about 3, as in trained transformer layers; see the double-quantization bound in quantized.h).
Tensor test_weight(int64_t out, int64_t in, uint64_t seed, double lo = 0.05, double hi = 0.1) {
  Generator gen(seed);
  Tensor w = randn({out, in}, DType::f32, gen);
  Tensor row_scale = uniform({out, 1}, lo, hi, DType::f32, gen);
  NoGradGuard no_grad;
  return mul(w, row_scale);
}

void expect_close(const Tensor& got, const Tensor& want, double rel) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = got.to(DType::f64).to_vector<double>(), w = want.to(DType::f64).to_vector<double>();
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], rel * (1 + scale)) << "element " << i;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(QuantNF4, MidpointsTakeTheNearestCodeAndTiesTheLowerOne) {
  // One block whose absmax is exactly 1, so w / absmax = w and â = 1 exactly.
  std::vector<float> v(64, 0.0f);
  std::vector<int> want(64, 7);  // 0 is code 7
  v[0] = 1.0f, want[0] = 15;
  for (int i = 0; i < 15; ++i) {
    const float mid = (kNF4[size_t(i)] + kNF4[size_t(i) + 1]) * 0.5f;
    v[size_t(1 + 3 * i)] = mid, want[size_t(1 + 3 * i)] = i;  // a tie: the lower code, as bitsandbytes
    v[size_t(2 + 3 * i)] = std::nextafter(mid, 2.0f), want[size_t(2 + 3 * i)] = i + 1;
    v[size_t(3 + 3 * i)] = std::nextafter(mid, -2.0f), want[size_t(3 + 3 * i)] = i;
  }
  QuantizedWeight q = quantize_nf4(from_vector(v, {1, 64}));
  auto got = dequantize(q).to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(got[i], kNF4[size_t(want[i])]) << "value " << v[i];
    EXPECT_EQ(nf4_index(v[i]), want[i]) << "value " << v[i];
  }
  EXPECT_EQ(q.codes()[0], uint8_t(15 << 4 | 0));  // even element (1.0) in the high nibble
}

TEST(QuantNF4, ValuesAreNearestCodeTimesDoubleQuantizedAbsmax) {
  const int64_t out = 96, in = 320;  // 480 blocks: two scale groups, the second partial
  Tensor w = test_weight(out, in, 3);
  QuantizedWeight q = quantize_nf4(w);
  ASSERT_EQ(q.absmax_codes().size(), 480u);
  ASSERT_EQ(q.scales().size(), 2u);
  auto x = w.to_vector<float>(), y = dequantize(q).to_vector<float>();
  auto ahat = q.block_scales().to_vector<float>();
  for (int64_t b = 0; b < out * in / 64; ++b) {
    float a = 0;
    for (int64_t i = 0; i < 64; ++i) a = std::max(a, std::abs(x[size_t(b * 64 + i)]));
    const float s = q.scales()[size_t(b / 256)];
    ASSERT_LE(std::abs(ahat[size_t(b)] - a), s / 254 * 1.001f + 1e-7f) << "block " << b;
    ASSERT_LE(std::abs(ahat[size_t(b)] - a), a / 127) << "block " << b;  // holds for this spread
    for (int64_t i = 0; i < 64; ++i) {
      const size_t k = size_t(b * 64 + i);
      const float t = x[k] * (1.0f / a);
      const int idx = nf4_index(t);
      for (float c : kNF4) ASSERT_LE(std::abs(t - kNF4[size_t(idx)]), std::abs(t - c) + 1e-7f);
      ASSERT_EQ(y[k], kNF4[size_t(idx)] * ahat[size_t(b)]) << "element " << k;
      ASSERT_LE(std::abs(y[k] - kNF4[size_t(idx)] * a), s / 254 * 1.001f + 1e-7f);
    }
  }
}

TEST(QuantNF4, DoubleQuantErrorIsBoundedByTheGroupScaleForAnySpread) {
  Tensor w = test_weight(64, 512, 14, 0.001, 1.0);  // absmax spread 1000x: only s_g/254 holds
  QuantizedWeight q = quantize_nf4(w);
  auto x = w.to_vector<float>(), ahat = q.block_scales().to_vector<float>();
  for (int64_t b = 0; b < 64 * 512 / 64; ++b) {
    float a = 0;
    for (int64_t i = 0; i < 64; ++i) a = std::max(a, std::abs(x[size_t(b * 64 + i)]));
    ASSERT_LE(std::abs(ahat[size_t(b)] - a), q.scales()[size_t(b / 256)] / 254 * 1.001f) << b;
  }
}

TEST(QuantNF4, StorageIsAboutFourPointOneThreeBits) {
  QuantizedWeight q = quantize_nf4(test_weight(768, 768, 4));
  const int64_t blocks = 768 * 768 / 64;
  EXPECT_EQ(q.bytes(), 768 * 768 / 2 + blocks + 4 * ((blocks + 255) / 256) + 4);
  EXPECT_GE(q.bits_per_parameter(), 4.1);
  EXPECT_LE(q.bits_per_parameter(), 4.2);
  EXPECT_EQ(q.shape(), (Shape{768, 768}));
  EXPECT_EQ(q.format(), QuantFormat::nf4);
}

TEST(QuantNF4, Conv1DLayoutIsTransposedFirst) {
  Tensor w = test_weight(48, 128, 5);                   // [out, in]
  Tensor conv = w.t().contiguous();                     // GPT-2 Conv1D: [in, out]
  QuantizedWeight a = quantize_nf4(w), b = quantize_nf4(conv, WeightLayout::in_out);
  EXPECT_EQ(b.shape(), (Shape{48, 128}));
  EXPECT_EQ(dequantize(a).to_vector<float>(), dequantize(b).to_vector<float>());
}

TEST(QuantSimd, EverySimdTargetDequantizesTheSame) {
  // The NF4 lookup takes a different path per vector width (one permute on AVX-512, pieces
  // and selects on AVX2 / SSE4 / scalar): each compiled target must give the same bits.
  Tensor w = test_weight(24, 192, 15);
  QuantizedWeight nf4 = quantize_nf4(w), i8 = quantize_int8(w);
  const auto ref4 = dequantize(nf4).to_vector<float>(), ref8 = dequantize(i8).to_vector<float>();
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    EXPECT_EQ(dequantize(nf4).to_vector<float>(), ref4) << hwy::TargetName(target);
    EXPECT_EQ(dequantize(i8).to_vector<float>(), ref8) << hwy::TargetName(target);
  }
  hwy::SetSupportedTargetsForTest(0);  // back to the best target
}

TEST(QuantInt8, RoundTripWithinHalfAStepPerRow) {
  const int64_t out = 37, in = 100;
  Tensor w = test_weight(out, in, 6);
  QuantizedWeight q = quantize_int8(w);
  EXPECT_EQ(q.bytes(), out * in + 4 * out);
  EXPECT_DOUBLE_EQ(q.bits_per_parameter(), 8.0 + 32.0 / in);
  auto x = w.to_vector<float>(), y = dequantize(q).to_vector<float>();
  for (int64_t r = 0; r < out; ++r) {
    float a = 0;
    for (int64_t j = 0; j < in; ++j) a = std::max(a, std::abs(x[size_t(r * in + j)]));
    EXPECT_FLOAT_EQ(q.scales()[size_t(r)], a / 127);
    for (int64_t j = 0; j < in; ++j)
      ASSERT_LE(std::abs(x[size_t(r * in + j)] - y[size_t(r * in + j)]), a / 254 * 1.0001f) << r << "," << j;
  }
}

TEST(QuantizedLinear, EqualsDenseLinearWithTheDequantizedWeight) {
  struct Case { Shape x; int64_t out; };
  const Case cases[] = {{{3, 5, 64}, 37}, {{7, 128}, 100}, {{1, 320}, 300}, {{9, 320}, 1100}};
  for (QuantFormat f : {QuantFormat::nf4, QuantFormat::int8})
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(format_name(f)) + " x " + shape_str(c.x) + " out " + std::to_string(c.out));
      Generator gen(7);
      Tensor x = randn(c.x, DType::f32, gen), b = randn({c.out}, DType::f32, gen);
      QuantizedWeight q = quantize(test_weight(c.out, c.x.back(), 8), f);
      Tensor w = dequantize(q);
      expect_close(quantized_linear(x, q, b), linear(x, w, b), 1e-5);
      expect_close(quantized_linear(x, q), linear(x, w), 1e-5);
    }
}

TEST(QuantizedLinear, GradientsMatchDenseFrozenLinearAndNothingIsSaved) {
  for (QuantFormat f : {QuantFormat::nf4, QuantFormat::int8}) {
    Generator gen(9);
    QuantizedWeight q = quantize(test_weight(1100, 192, 10), f);  // several column tiles
    Tensor w = dequantize(q);
    Tensor x0 = randn({5, 3, 192}, DType::f32, gen), b0 = randn({1100}, DType::f32, gen);
    Tensor gy = randn({5, 3, 1100}, DType::f32, gen);
    Tensor x = x0.detach().requires_grad_(), b = b0.detach().requires_grad_();
    reset_counters();
    quantized_linear(x, q, b).backward(gy);
    Counters c = counters();
    EXPECT_EQ(c.backward_count("quantized_linear.dx"), 1);
    EXPECT_EQ(c.backward_count("quantized_linear.db"), 1);
    EXPECT_EQ(c.bytes_saved, 0);  // dx needs only W, which the handle keeps
    Tensor xr = x0.detach().requires_grad_(), br = b0.detach().requires_grad_();
    linear(xr, w, br).backward(gy);
    expect_close(x.grad(), xr.grad(), 1e-5);
    expect_close(b.grad(), br.grad(), 1e-5);
  }
}

TEST(QuantizedLinear, FrozenInputRunsNoDxKernel) {
  QuantizedWeight q = quantize_nf4(test_weight(40, 64, 11));
  Tensor x = randn({4, 64}), b = zeros({40}).requires_grad_();
  reset_counters();
  quantized_linear(x, q, b).backward(ones({4, 40}));
  EXPECT_EQ(counters().count("quantized_linear.dx"), 0);
  EXPECT_EQ(b.grad().to_vector<float>(), std::vector<float>(40, 4.0f));
  Tensor y = quantized_linear(x, q);  // nothing requires grad: not recorded
  EXPECT_FALSE(y.requires_grad());
}

TEST(QuantizedLinear, HalfAndDoubleInputsComputeInF32AndKeepTheirDtype) {
  QuantizedWeight q = quantize_int8(test_weight(24, 64, 12));
  Tensor x = randn({6, 64});
  Tensor ref = quantized_linear(x, q);
  for (DType dt : {DType::bf16, DType::f64}) {
    Tensor y = quantized_linear(x.to(dt), q);
    EXPECT_EQ(y.dtype(), dt);
    expect_close(y, ref, dt == DType::bf16 ? 2e-2 : 1e-5);
  }
}

TEST(QuantizedLinear, SameBitsForOneAndTwoThreads) {
  QuantizedWeight q = quantize_nf4(test_weight(600, 256, 13));
  Tensor x = randn({33, 256});
  set_num_threads(1);
  auto one = quantized_linear(x, q).to_vector<float>();
  set_num_threads(2);
  auto two = quantized_linear(x, q).to_vector<float>();
  set_num_threads(0);
  EXPECT_EQ(one, two);
}

TEST(Quant, ErrorsAreTypedAndNameTheShape) {
  EXPECT_THROW(quantize_nf4(randn({8, 100})), ShapeError);
  EXPECT_NE(error_of([] { quantize_nf4(randn({8, 100})); }).find("[8,100]"), std::string::npos);
  EXPECT_NE(error_of([] { quantize_nf4(randn({100, 8}), WeightLayout::in_out); }).find("[8,100]"),
            std::string::npos);
  EXPECT_THROW(quantize_int8(arange(0, 6).reshape({2, 3})), DTypeError);
  EXPECT_THROW(quantize_int8(randn({6})), ShapeError);
  QuantizedWeight q = quantize_nf4(randn({4, 64}));
  EXPECT_THROW(quantized_linear(randn({2, 63}), q), ShapeError);
  EXPECT_NE(error_of([&] { quantized_linear(randn({2, 63}), q); }).find("[4,64]"), std::string::npos);
  EXPECT_THROW(quantized_linear(randn({2, 64}), q, randn({5})), ShapeError);
  EXPECT_THROW(quantized_linear(randn({2, 64}), QuantizedWeight{}), ValueError);
  EXPECT_THROW(parse_format("nf3"), ValueError);
  EXPECT_EQ(parse_format("int8"), QuantFormat::int8);
}
