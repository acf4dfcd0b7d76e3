// QLoRA on CUDA. CudaQuantMath runs everywhere: the __host__ __device__ NF4 / int8 decode the
// kernels use must equal engine::quant::dequantize bit for bit (and its code table the
// engine's). CudaQuantParity compares the GPU dequantization (bit-exact in f32) and
// quantized_linear's forward and dx / db with the CPU and skips without a device;
// CudaQuantNoDevice checks the typed errors on machines without one.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/backend/cuda/cuda_quant.h"
#include "engine/backend/cuda/quant_kernels.h"
#include "engine/cuda_parity.h"
#include "engine/quant/quantized.h"

using namespace engine;
using namespace cuda_parity;
namespace k = engine::cuda::kernels;

namespace {

uint32_t fbits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

// A weight whose rows differ in scale (so block absmax and their int8 codes vary).
Tensor weight(int64_t out, int64_t in, uint64_t seed) {
  Generator gen(seed);
  Tensor w = randn({out, in}, DType::f32, gen);
  std::vector<float> s(static_cast<size_t>(out));
  for (int64_t r = 0; r < out; ++r) s[size_t(r)] = 0.02f * float(1 + r % 5);
  return mul(w, from_vector(s, {out, 1}));
}

}  // namespace

TEST(CudaQuantMath, CodeTableIsTheEngines) {
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(fbits(k::kNF4Codes[i]), fbits(quant::kNF4[i])) << i;
  EXPECT_EQ(k::kNF4BlockValues, quant::kNF4Block);
  EXPECT_EQ(k::kNF4GroupBlocks, quant::kNF4ScaleGroup);
}

TEST(CudaQuantMath, Nf4DecodeIsBitIdenticalToCpuDequantize) {
  quant::QuantizedWeight w = quant::quantize_nf4(weight(300, 128, 1));  // 600 blocks: 3 scale groups
  const auto codes = w.codes();
  const auto acodes = w.absmax_codes();
  const auto scales = w.scales();
  std::vector<float> ref = quant::dequantize(w).to_vector<float>();
  std::vector<float> absmax = w.block_scales().to_vector<float>();
  for (size_t b = 0; b < absmax.size(); ++b)
    ASSERT_EQ(fbits(k::nf4_block_absmax(w.offset(), acodes[b], scales[b / 256])), fbits(absmax[b])) << b;
  for (int64_t e = 0; e < w.numel(); ++e)
    ASSERT_EQ(fbits(k::nf4_value(k::kNF4Codes, codes.data(), acodes.data(), scales.data(), w.offset(), e)),
              fbits(ref[size_t(e)]))
        << "element " << e;
}

TEST(CudaQuantMath, Int8DecodeIsBitIdenticalToCpuDequantize) {
  quant::QuantizedWeight w = quant::quantize_int8(weight(37, 45, 2));
  const auto* q = reinterpret_cast<const int8_t*>(w.codes().data());
  std::vector<float> ref = quant::dequantize(w).to_vector<float>();
  for (int64_t r = 0; r < 37; ++r)
    for (int64_t c = 0; c < 45; ++c)
      ASSERT_EQ(fbits(k::int8_value(q, w.scales().data(), 45, r, c)), fbits(ref[size_t(r * 45 + c)])) << r << "," << c;
}

TEST(CudaQuantNoDevice, GpuInputsGetTypedErrors) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present: ops run instead of throwing";
  quant::QuantizedWeight w = quant::quantize_nf4(weight(8, 64, 3));
  expect_no_kernel_error("quantized_linear", [&] { quant::quantized_linear(fake_cuda_tensor({2, 64}), w); });
  EXPECT_THROW(w.to(Device::cuda()), NoKernelError);
  EXPECT_THROW(cuda::dequantize_rows(w, Device::cuda(), 0, 1), NoKernelError);
  EXPECT_THROW(w.device_parts(Device::cpu()), ValueError);
  EXPECT_EQ(quant::dequantize(w.to(Device::cpu())).to_vector<float>(), quant::dequantize(w).to_vector<float>());
}

// ---------------------------------------------------------------- on a GPU (skip without one)

TEST(CudaQuantParity, DequantizeIsBitExact) {
  REQUIRE_GPU();
  for (quant::QuantFormat f : {quant::QuantFormat::nf4, quant::QuantFormat::int8}) {
    quant::QuantizedWeight w = quant::quantize(weight(300, 192, 4), f);
    Tensor ref = quant::dequantize(w);
    const std::string what = quant::format_name(f);
    EXPECT_EQ(&w.device_parts(Device::cuda()), &w.to(Device::cuda()).device_parts(Device::cuda()))
        << what << ": uploaded once, shared by handles";
    Tensor all = cuda::dequantize_rows(w, Device::cuda(), 0, 300);
    EXPECT_EQ(all.device(), Device::cuda());
    EXPECT_EQ(bits(all), bits(ref)) << what;
    EXPECT_EQ(bits(cuda::dequantize_rows(w, Device::cuda(), 5, 17)), bits(ref.narrow(0, 5, 12).contiguous())) << what;
    for (DType dt : {DType::bf16, DType::f16}) {
      Tensor half = cuda::dequantize_rows(w, Device::cuda(), 0, 300, dt);
      EXPECT_EQ(half.dtype(), dt);
      EXPECT_EQ(bits(half), bits(ref.to(dt))) << what << " " << dtype_name(dt);
    }
    EXPECT_EQ(cuda::dequantize_rows(w, Device::cuda(), 7, 7).numel(), 0);
  }
}

TEST(CudaQuantParity, QuantizedLinearForwardAndGradientsMatchTheCpu) {
  REQUIRE_GPU();
  for (quant::QuantFormat f : {quant::QuantFormat::nf4, quant::QuantFormat::int8})
    for (DType dt : {DType::f32, DType::bf16, DType::f16})
      for (bool with_bias : {false, true}) {
        const std::string what = std::string(quant::format_name(f)) + " " + dtype_name(dt) + (with_bias ? " bias" : "");
        quant::QuantizedWeight w = quant::quantize(weight(37, 128, 5), f);
        auto [x_ref, x_dev] = make_leaf({3, 5, 128}, dt, false, false, 6);
        Tensor b_ref, b_dev;
        if (with_bias) std::tie(b_ref, b_dev) = make_leaf({37}, dt, false, false, 7);
        Tensor y_ref = quant::quantized_linear(x_ref, w, b_ref);
        Tensor y_dev = quant::quantized_linear(x_dev, w, b_dev);
        ASSERT_EQ(y_dev.device(), Device::cuda()) << what;
        ASSERT_EQ(y_dev.dtype(), dt) << what;
        ASSERT_EQ(y_dev.shape(), (Shape{3, 5, 37})) << what;
        expect_close(y_dev, y_ref, dt, what + " forward");
        Generator gen(8);
        Tensor g = randn(y_ref.shape(), DType::f64, gen).to(dt).to(DType::f64);
        sum(mul(y_ref, g)).backward();
        sum(mul(y_dev, g.to(dt).to(Device::cuda()))).backward();
        expect_close(x_dev.grad(), x_ref.grad(), dt, what + " dx");
        if (with_bias) expect_close(b_dev.grad(), b_ref.grad(), dt, what + " db");
      }
}

TEST(CudaQuantParity, LargeWeightRunsInSeveralTiles) {
  REQUIRE_GPU();
  quant::QuantizedWeight w = quant::quantize_nf4(weight(4100, 4096, 9));  // > 2^24 values: 2 row tiles
  auto [x_ref, x_dev] = make_leaf({2, 4096}, DType::f32, false, false, 10);
  Tensor xr = x_ref.to(DType::f32).detach().requires_grad_();  // the CPU computes in f32 anyway
  Tensor y_ref = quant::quantized_linear(xr, w);
  Tensor y_dev = quant::quantized_linear(x_dev, w);
  expect_close(y_dev, y_ref, DType::f32, "nf4 [4100, 4096] forward");
  Generator gen(11);
  Tensor g = randn({2, 4100}, DType::f32, gen);
  sum(mul(y_ref, g)).backward();
  sum(mul(y_dev, g.to(Device::cuda()))).backward();
  expect_close(x_dev.grad(), xr.grad(), DType::f32, "nf4 [4100, 4096] dx");
}
