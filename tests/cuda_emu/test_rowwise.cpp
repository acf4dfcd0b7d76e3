// rowwise.cu under emulation (softmax / log_softmax forward+backward, layer_norm / rms_norm
// forward+backward incl. split dγ/dβ) vs f64 references, f32/bf16/f16, odd row lengths.
#include "emu_test.h"

namespace {

template <typename T>
void test_softmax(int64_t rows, int64_t cols, bool log) {
  Ten<T> x({rows, cols}), gy({rows, cols});
  x.randn(3), gy.randn();
  if (rows > 2 && cols > 3) x.set(cols + 2, -1e30), x.set(2 * cols, 60);  // a huge negative, a big positive
  Buf<T> y(size_t(rows * cols), from_d<T>(std::nan(""))), gx(y.size(), from_d<T>(std::nan("")));
  K::softmax_forward(dt_of<T>(), x.buf.data(), y.data(), rows, cols, log);
  K::softmax_backward(dt_of<T>(), y.data(), gy.buf.data(), gx.data(), rows, cols, log);
  std::vector<double> gotf(y.size()), wantf(y.size()), gotb(y.size()), wantb(y.size()), nb(y.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0, d = 0, a = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, x.get(r * cols + c));
    for (int64_t c = 0; c < cols; ++c) s += std::exp(x.get(r * cols + c) - m);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      wantf[i] = log ? x.get(i) - m - std::log(s) : std::exp(x.get(i) - m) / s, gotf[i] = to_d(y[i]);
      const double yv = to_d(y[i]);  // backward from the kernel's own y, as autograd does
      d += log ? gy.get(i) : gy.get(i) * yv, a += std::abs(log ? gy.get(i) : gy.get(i) * yv);
    }
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const double yv = to_d(y[i]);
      wantb[i] = log ? gy.get(i) - std::exp(yv) * d : yv * (gy.get(i) - d), gotb[i] = to_d(gx[i]);
      nb[i] = 1 + (log ? std::exp(yv) * a : yv * a);
    }
  }
  std::string n = std::string(log ? "log_softmax " : "softmax ") + std::to_string(rows) + "x" + std::to_string(cols) +
                  " " + dt_name<T>();
  check(n + " fwd", gotf, wantf, tol_of<T>() * (log ? 10 : 1));
  check(n + " bwd", gotb, wantb, tol_of<T>() * 2, &nb);
}

template <typename T>
void test_norm(int64_t rows, int64_t cols, bool center, bool affine, bool want_x = true, bool want_params = true) {
  Ten<T> x({rows, cols}), gy({rows, cols});
  x.randn(), gy.randn();
  for (int64_t i = 0; i < x.numel; ++i) x.set(i, x.get(i) + 3);  // an offset: cancellation in mean
  std::vector<float> gamma((size_t)cols), beta((size_t)cols);
  std::normal_distribution<float> nd;
  for (auto& g : gamma) g = 1 + 0.5f * nd(rng);
  for (auto& b : beta) b = nd(rng);
  const double eps = 1e-5;
  Buf<T> y(size_t(rows * cols), from_d<T>(std::nan(""))), gx(y.size(), from_d<T>(std::nan("")));
  std::vector<float> mean(size_t(rows), NAN), rstd(size_t(rows), NAN), dg((size_t)cols, NAN), db((size_t)cols, NAN);
  const float* gp = affine ? gamma.data() : nullptr;
  const float* bp = affine && center ? beta.data() : nullptr;
  K::norm_forward(dt_of<T>(), x.buf.data(), gp, bp, eps, y.data(), mean.data(), rstd.data(), rows, cols, center);
  const int64_t splits = K::norm_param_splits(rows, cols);
  std::vector<float> ws(size_t(2 * cols * splits), NAN);
  K::norm_backward(dt_of<T>(), x.buf.data(), gp, mean.data(), rstd.data(), gy.buf.data(), want_x ? gx.data() : nullptr,
                   affine && want_params ? dg.data() : nullptr, affine && center && want_params ? db.data() : nullptr,
                   rows, cols, center, ws.data());
  std::vector<double> gy_(y.size()), wy(y.size()), gm((size_t)rows), wm((size_t)rows), gr((size_t)rows), wr((size_t)rows);
  std::vector<double> ggx(y.size()), wgx(y.size()), gdg((size_t)cols), wdg((size_t)cols, 0), gdb((size_t)cols),
      wdb((size_t)cols, 0), ndg((size_t)cols, 1), ndb((size_t)cols, 1);
  for (int64_t r = 0; r < rows; ++r) {
    double mu = 0, q = 0;
    if (center) { for (int64_t c = 0; c < cols; ++c) mu += x.get(r * cols + c); mu /= double(cols); }
    for (int64_t c = 0; c < cols; ++c) q += (x.get(r * cols + c) - mu) * (x.get(r * cols + c) - mu);
    const double rs = 1 / std::sqrt(q / double(cols) + eps);
    wm[r] = mu, wr[r] = rs, gm[r] = mean[r], gr[r] = rstd[r];
    double mw = 0, mwx = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const double xh = (x.get(i) - mu) * rs, g = affine ? gamma[c] : 1.0;
      wy[i] = xh * g + (affine && center ? beta[c] : 0.0), gy_[i] = to_d(y[i]);
      const double w = gy.get(i) * g;
      mw += w, mwx += w * xh;
      wdg[c] += gy.get(i) * xh, wdb[c] += gy.get(i), ndg[c] += std::abs(gy.get(i) * xh), ndb[c] += std::abs(gy.get(i));
    }
    mw = center ? mw / double(cols) : 0, mwx /= double(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const double xh = (x.get(i) - mu) * rs, w = gy.get(i) * (affine ? gamma[c] : 1.0);
      wgx[i] = rs * (w - mw - xh * mwx), ggx[i] = to_d(gx[i]);
    }
  }
  for (int64_t c = 0; c < cols; ++c) gdg[c] = dg[c], gdb[c] = db[c];
  std::string n = std::string(center ? "layer_norm " : "rms_norm ") + std::to_string(rows) + "x" + std::to_string(cols) +
                  (affine ? " affine " : " plain ") + dt_name<T>() + " splits=" + std::to_string(splits);
  check(n + " y", gy_, wy, tol_of<T>() * 2);
  if constexpr (std::is_same_v<T, float>) {  // stats are f32 whatever T
    if (center) check(n + " mean", gm, wm, 1e-5);
    check(n + " rstd", gr, wr, 1e-5);
  }
  if (want_x) check(n + " gx", ggx, wgx, tol_of<T>() * 4);
  if (affine && want_params) {
    check(n + " dgamma", gdg, wdg, 1e-5, &ndg);  // f32 sums of T inputs: the inputs are the same values
    if (center) check(n + " dbeta", gdb, wdb, 1e-5, &ndb);
  }
}

template <typename T>
void softmaxes() {
  for (bool log : {false, true})
    for (auto rc : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 5}, {4, 256}, {3, 257}, {2, 1000}, {5, 31}})
      test_softmax<T>(rc.first, rc.second, log);
}
// Every shape for every centre/affine combination; many rows split dγ/dβ into pieces.
template <typename T>
void norms() {
  for (bool center : {true, false})
    for (bool affine : {true, false}) {
      test_norm<T>(3, 5, center, affine);
      test_norm<T>(2, 257, center, affine);
      test_norm<T>(1, 1000, center, affine);
      test_norm<T>(129, 37, center, affine);  // split dγ/dβ: pieces of 64, 64, 1 rows
      test_norm<T>(200, 3, center, affine);   // 4 pieces, narrow rows
      test_norm<T>(1, 1, center, affine);
    }
  test_norm<T>(70, 9, true, true, false, true);   // params only
  test_norm<T>(70, 9, true, true, true, false);   // gx only
}


}  // namespace

using CudaEmuRowwise = EmuTest;
TEST_F(CudaEmuRowwise, SoftmaxF32) { softmaxes<float>(); }
TEST_F(CudaEmuRowwise, SoftmaxBf16) { softmaxes<engine::bf16>(); }
TEST_F(CudaEmuRowwise, SoftmaxF16) { softmaxes<engine::f16>(); }
TEST_F(CudaEmuRowwise, NormF32) { norms<float>(); }
TEST_F(CudaEmuRowwise, NormBf16) { norms<engine::bf16>(); }
TEST_F(CudaEmuRowwise, NormF16) { norms<engine::f16>(); }
