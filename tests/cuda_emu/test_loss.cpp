// loss.cu under emulation (fused cross-entropy forward / reduce / backward, label smoothing,
// ignored and out-of-range targets) vs the CPU backend's cpu::cross_entropy_forward/backward<double>.
#include <climits>
#include "emu_test.h"
#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cuda/loss_kernels.h"

namespace {

template <typename T>
void test_xent(int64_t rows, int64_t cols, double eps, int special, bool mean, int64_t g_stride, double g_scale) {
  Ten<T> x({rows, cols});
  x.randn(3);
  std::vector<int64_t> t((size_t)rows);
  const int64_t ign = -100;
  for (auto& v : t) v = int64_t(rng() % uint64_t(cols));
  if (rows > 2) t[1] = ign;
  if (special == 1 && rows > 3) x.set(3 * cols + (t[3] + 1) % cols, -INFINITY);  // a −inf logit off target
  if (special == 2) t[size_t(rows - 1)] = cols, t[0] = -5;                       // out of range: NaN + info
  if (special == 3) for (auto& v : t) v = ign;                                  // every row ignored
  std::vector<float> loss((size_t)rows, NAN), lse((size_t)rows, NAN), out(1, NAN);
  std::vector<int64_t> info(3, 777);
  K::xent_forward(x.buf.data(), dt_of<T>(), t.data(), loss.data(), lse.data(), rows, cols, ign, eps);
  K::xent_reduce(loss.data(), t.data(), rows, cols, ign, mean, out.data(), info.data());
  std::string n = "xent " + std::to_string(rows) + "x" + std::to_string(cols) + " eps=" + std::to_string(eps).substr(0, 4) +
                  " sp" + std::to_string(special) + (mean ? " mean " : " sum ") + dt_name<T>();
  // CPU reference in f64 on the same (rounded) logits
  std::vector<double> xd((size_t)(rows * cols)), ld((size_t)rows), lsed((size_t)rows);
  for (int64_t i = 0; i < rows * cols; ++i) xd[size_t(i)] = x.get(i);
  engine::cpu::CrossEntropyOptions opt;
  opt.ignore_index = ign, opt.label_smoothing = eps;
  int64_t count = 0, first_bad = -1;
  for (int64_t r = 0; r < rows; ++r)
    if (t[size_t(r)] != ign) {
      ++count;
      if ((t[size_t(r)] < 0 || t[size_t(r)] >= cols) && first_bad < 0) first_bad = r;
    }
  check(n + " info", {double(info[0]), double(info[1]), double(info[2])},
         {double(count), double(first_bad), first_bad >= 0 ? double(t[size_t(first_bad)]) : 0.0}, 0);
  if (first_bad >= 0) {  // the CPU throws; the GPU marks the row NaN
    check(n + " bad row NaN", {double(loss[size_t(first_bad)])}, {NAN}, 0);
    return;
  }
  engine::cpu::cross_entropy_forward<double>(xd.data(), t.data(), ld.data(), lsed.data(), rows, cols, opt);
  std::vector<double> gl(loss.begin(), loss.end()), gs(lse.begin(), lse.end());
  check(n + " loss", gl, ld, 1e-5);
  for (int64_t r = 0; r < rows; ++r) if (t[size_t(r)] == ign) gs[size_t(r)] = lsed[size_t(r)] = 0;  // lse unused there
  check(n + " lse", gs, lsed, 1e-5);
  double tot = 0;
  for (auto v : ld) tot += v;
  check(n + " reduced", {double(out[0])}, {mean ? tot / double(count) : tot}, 1e-5);
  // backward: g per row (stride 1) or one scalar (stride 0)
  std::vector<float> g((size_t)std::max<int64_t>(rows, 1));
  for (auto& v : g) v = float(std::normal_distribution<double>()(rng));
  std::vector<double> gd(g.size()), gxd((size_t)(rows * cols));
  for (size_t i = 0; i < g.size(); ++i) gd[i] = double(g[i]) * g_scale;
  Buf<T> gx((size_t)(rows * cols), from_d<T>(NAN));
  K::xent_backward(x.buf.data(), dt_of<T>(), t.data(), lse.data(), g.data(), g_stride, g_scale, gx.data(), rows, cols,
                   ign, eps);
  engine::cpu::cross_entropy_backward<double>(xd.data(), t.data(), lsed.data(), gd.data(), g_stride, gxd.data(), rows,
                                              cols, opt);
  std::vector<double> ggx(gx.size());
  for (size_t i = 0; i < gx.size(); ++i) ggx[i] = to_d(gx[i]);
  check(n + " gx stride" + std::to_string(g_stride), ggx, gxd, std::max(1e-5, tol_of<T>() * 2));
}


}  // namespace

using CudaEmuLoss = EmuTest;
template <typename T>
void xent_cases() {
  test_xent<T>(5, 7, 0.0, 0, true, 0, 0.2);
  test_xent<T>(4, 1000, 0.1, 1, true, 1, 1.0);  // smoothing, a −inf logit
  test_xent<T>(3, 257, 0.0, 0, false, 1, 1.0);
  test_xent<T>(1, 1, 0.0, 0, true, 0, 1.0);
  test_xent<T>(6, 300, 0.2, 2, true, 0, 1.0);   // out-of-range targets: NaN row + info
  test_xent<T>(600, 5, 0.0, 0, true, 0, 1.0 / 600);  // > kBlock rows through the reduce
}
TEST_F(CudaEmuLoss, CrossEntropyF32) { xent_cases<float>(); }
TEST_F(CudaEmuLoss, CrossEntropyBf16) { xent_cases<engine::bf16>(); }
TEST_F(CudaEmuLoss, CrossEntropyF16) { xent_cases<engine::f16>(); }
TEST_F(CudaEmuLoss, CrossEntropyAllIgnored) { test_xent<float>(4, 9, 0.0, 3, true, 0, 1.0); }
