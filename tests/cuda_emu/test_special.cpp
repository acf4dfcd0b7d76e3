// Special values (±inf, NaN, all −inf rows, constant rows, huge values) through the emulated
// rowwise.cu kernels vs the real CPU backend: NaN/inf patterns exactly, finite values to f32 tolerance.
#include "emu_test.h"
#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cuda/loss_kernels.h"

namespace {

std::vector<std::vector<float>> rows_of() {
  const float I = INFINITY, N = NAN;
  return {{-I, -I, -I, -I, -I}, {1, 2, I, 3, 4}, {1, N, 2, 3, 4}, {-I, 1, 2, 3, -I}, {1e30f, -1e30f, 3e38f, 0, 1},
          {2, 2, 2, 2, 2},      {I, I, 0, 0, 0}, {-3, -I, 5, 1, 1e-30f}};
}

void softmax_special(bool log) {
  auto R = rows_of();
  const int64_t rows = int64_t(R.size()), cols = 5;
  std::vector<float> x, y((size_t)(rows * cols), 7.f), yc(y.size(), 7.f), gy, gx(y.size(), 7.f), gxc(y.size(), 7.f);
  for (auto& r : R) x.insert(x.end(), r.begin(), r.end());
  for (size_t i = 0; i < x.size(); ++i) gy.push_back(float(int(i % 7) - 3) * 0.25f);
  K::softmax_forward(K::F32, x.data(), y.data(), rows, cols, log);
  if (log) engine::cpu::log_softmax_forward<float>(x.data(), yc.data(), rows, cols);
  else engine::cpu::softmax_forward<float>(x.data(), yc.data(), rows, cols);
  K::softmax_backward(K::F32, yc.data(), gy.data(), gx.data(), rows, cols, log);  // same y for both
  if (log) engine::cpu::log_softmax_backward<float>(yc.data(), gy.data(), gxc.data(), rows, cols);
  else engine::cpu::softmax_backward<float>(yc.data(), gy.data(), gxc.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> a(y.begin() + r * cols, y.begin() + (r + 1) * cols), b(yc.begin() + r * cols, yc.begin() + (r + 1) * cols);
    std::vector<double> c(gx.begin() + r * cols, gx.begin() + (r + 1) * cols), d(gxc.begin() + r * cols, gxc.begin() + (r + 1) * cols);
    check(std::string(log ? "log_softmax" : "softmax") + " special row " + std::to_string(r) + " fwd vs cpu f32", a, b, 1e-6);
    check(std::string(log ? "log_softmax" : "softmax") + " special row " + std::to_string(r) + " bwd vs cpu f32", c, d, 1e-6);
  }
}

void norm_special(bool center) {
  auto R = rows_of();
  const int64_t rows = int64_t(R.size()), cols = 5;
  std::vector<float> x, g(5), b(5), y((size_t)(rows * cols), 7.f), yc(y.size(), 7.f), mean((size_t)rows, 7.f),
      rstd((size_t)rows, 7.f), meanc((size_t)rows, 7.f), rstdc((size_t)rows, 7.f);
  for (auto& r : R) x.insert(x.end(), r.begin(), r.end());
  for (int i = 0; i < 5; ++i) g[size_t(i)] = 1.f + 0.1f * float(i), b[size_t(i)] = 0.5f - 0.2f * float(i);
  K::norm_forward(K::F32, x.data(), g.data(), center ? b.data() : nullptr, 1e-5, y.data(), center ? mean.data() : nullptr,
                  rstd.data(), rows, cols, center);
  if (center) engine::cpu::layer_norm_forward<float>(x.data(), g.data(), b.data(), 1e-5, yc.data(), meanc.data(), rstdc.data(), rows, cols);
  else engine::cpu::rms_norm_forward<float>(x.data(), g.data(), 1e-5, yc.data(), rstdc.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> a(y.begin() + r * cols, y.begin() + (r + 1) * cols), bb(yc.begin() + r * cols, yc.begin() + (r + 1) * cols);
    check(std::string(center ? "layer_norm" : "rms_norm") + " special row " + std::to_string(r) + " y vs cpu f32", a, bb, 1e-5);
    check(std::string(center ? "layer_norm" : "rms_norm") + " special row " + std::to_string(r) + " rstd vs cpu f32",
           {double(rstd[size_t(r)])}, {double(rstdc[size_t(r)])}, 1e-5);
  }
}


}  // namespace

using CudaEmuSpecial = EmuTest;
TEST_F(CudaEmuSpecial, SoftmaxVsCpu) { softmax_special(false); }
TEST_F(CudaEmuSpecial, LogSoftmaxVsCpu) { softmax_special(true); }
TEST_F(CudaEmuSpecial, LayerNormVsCpu) { norm_special(true); }
TEST_F(CudaEmuSpecial, RmsNormVsCpu) { norm_special(false); }
