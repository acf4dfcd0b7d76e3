// optim.cu under emulation (AdamW / SGD fused steps with and without a row mask, grad-norm
// partials + finish, scale) vs serial loops over the same per-element functions and f64 norms.
#include "emu_test.h"
#include "engine/backend/cuda/optim_kernels.h"

namespace {

template <typename T>
void test_adamw(int64_t rows, int64_t width, bool masked, bool ams) {
  const int64_t total = rows * width;
  std::vector<int64_t> idx;
  if (masked) for (int64_t r = 0; r < rows; r += 3) idx.push_back(r);  // every third row trainable
  const int64_t n = masked ? int64_t(idx.size()) * width : total;
  Ten<T> p({total}), p0({total});
  p.randn();
  for (int64_t i = 0; i < total; ++i) p0.set(i, p.get(i));
  std::vector<float> g((size_t)n), m((size_t)n), v((size_t)n), vm((size_t)n);
  std::normal_distribution<float> nd;
  for (size_t i = 0; i < g.size(); ++i) g[i] = nd(rng), m[i] = 0.1f * nd(rng), v[i] = std::abs(nd(rng)), vm[i] = std::abs(nd(rng));
  auto m2 = m, v2 = v, vm2 = vm;
  K::AdamWScalars s{1 - 1e-3f * 0.01f, 0.9f, 0.999f, 0.1f, 0.001f, -1e-3f / (1 - 0.9f * 0.9f), std::sqrt(1 - 0.999f * 0.999f), 1e-8f, ams};
  for (int step = 0; step < 2; ++step)
    K::adamw_step(p.buf.data(), dt_of<T>(), g.data(), m.data(), v.data(), vm.data(), n, masked ? idx.data() : nullptr,
                  width, s);
  std::vector<double> got((size_t)total), want((size_t)total), gs, ws;
  std::vector<float> w((size_t)total);
  for (int64_t i = 0; i < total; ++i) w[size_t(i)] = float(p0.get(i));
  for (int step = 0; step < 2; ++step)
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = K::masked_entry(k, masked ? idx.data() : nullptr, width);
      w[size_t(i)] = float(from_d<T>(K::adamw_update(w[size_t(i)], g[size_t(k)], m2[size_t(k)], v2[size_t(k)],
                                                      ams ? &vm2[size_t(k)] : nullptr, s)));
    }
  for (int64_t i = 0; i < total; ++i) got[size_t(i)] = p.get(i), want[size_t(i)] = w[size_t(i)];
  for (int64_t k = 0; k < n; ++k)
    gs.push_back(m[size_t(k)]), gs.push_back(v[size_t(k)]), gs.push_back(vm[size_t(k)]),
    ws.push_back(m2[size_t(k)]), ws.push_back(v2[size_t(k)]), ws.push_back(vm2[size_t(k)]);
  std::string nm = "adamw x2 " + std::to_string(rows) + "x" + std::to_string(width) + (masked ? " masked" : "") +
                   (ams ? " amsgrad " : " ") + dt_name<T>() + " (bit-exact)";
  check(nm + " param", got, want, 0);
  check(nm + " state", gs, ws, 0);
}

template <typename T>
void test_sgd(int64_t rows, int64_t width, bool masked, bool mom, bool nest, bool wd) {
  const int64_t total = rows * width;
  std::vector<int64_t> idx;
  if (masked) for (int64_t r = 1; r < rows; r += 2) idx.push_back(r);
  const int64_t n = masked ? int64_t(idx.size()) * width : total;
  Ten<T> p({total});
  p.randn();
  std::vector<float> w((size_t)total), g((size_t)n), b((size_t)n, 0.f);
  for (int64_t i = 0; i < total; ++i) w[size_t(i)] = float(p.get(i));
  std::normal_distribution<float> nd;
  for (auto& x : g) x = nd(rng);
  auto b2 = b;
  for (int step = 0; step < 2; ++step) {
    K::SGDScalars s{0.01f, 0.9f, 0.75f, -0.1f, wd, mom, nest, step == 0};
    K::sgd_step(p.buf.data(), dt_of<T>(), g.data(), b.data(), n, masked ? idx.data() : nullptr, width, s);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = K::masked_entry(k, masked ? idx.data() : nullptr, width);
      w[size_t(i)] = float(from_d<T>(K::sgd_update(w[size_t(i)], g[size_t(k)], mom ? &b2[size_t(k)] : nullptr, s)));
    }
  }
  std::vector<double> got((size_t)total), want((size_t)total), gb(b.begin(), b.end()), wb(b2.begin(), b2.end());
  for (int64_t i = 0; i < total; ++i) got[size_t(i)] = p.get(i), want[size_t(i)] = w[size_t(i)];
  std::string nm = "sgd x2 " + std::to_string(rows) + "x" + std::to_string(width) + (masked ? " masked" : "") +
                   (mom ? " momentum" : "") + (nest ? " nesterov" : "") + (wd ? " wd " : " ") + dt_name<T>() + " (bit-exact)";
  check(nm + " param", got, want, 0);
  check(nm + " buf", gb, wb, 0);
}

template <typename T>
void test_norm(int64_t n, double p) {
  Ten<T> x({std::max<int64_t>(n, 1)});
  x.randn();
  std::vector<double> parts((size_t)K::norm_blocks(n), NAN), out(1, NAN);
  K::norm_partials(x.buf.data(), dt_of<T>(), n, p, parts.data());
  K::norm_finish(parts.data(), K::norm_blocks(n), std::isinf(p), out.data());
  double want = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::abs(x.get(i));
    want = std::isinf(p) ? std::max(want, a) : want + std::pow(a, p);
  }
  check("grad norm partials n=" + std::to_string(n) + " p=" + std::to_string(p).substr(0, 3) + " blocks=" +
             std::to_string(K::norm_blocks(n)) + " " + dt_name<T>(),
         {out[0]}, {want}, 1e-12);
  Ten<T> y({std::max<int64_t>(n, 1)});
  y.randn();
  std::vector<double> w2((size_t)n), g2((size_t)n);
  for (int64_t i = 0; i < n; ++i) w2[size_t(i)] = to_d(from_d<T>(float(y.get(i)) * 0.37f));
  K::scale_inplace(y.buf.data(), dt_of<T>(), n, 0.37);
  for (int64_t i = 0; i < n; ++i) g2[size_t(i)] = y.get(i);
  check("scale_inplace n=" + std::to_string(n) + " " + dt_name<T>(), g2, w2, 0);
}

template <typename T>
void steps() {
  test_adamw<T>(7, 37, false, false);
  test_adamw<T>(10, 33, true, true);
  test_adamw<T>(1, 1, false, true);
  test_sgd<T>(9, 41, false, false, false, false);
  test_sgd<T>(9, 41, true, true, false, true);
  test_sgd<T>(11, 30, true, true, true, true);
}
template <typename T>
void norms(int64_t big) {
  for (double p : {2.0, 1.0, 3.0, double(INFINITY)}) test_norm<T>(1000, p);
  test_norm<T>(big, 2.0);  // > 1024 blocks of 256: the grid-stride loop and a strided finish
  test_norm<T>(1, 2.0);
  test_norm<T>(0, 2.0);
}

}  // namespace

using CudaEmuOptim = EmuTest;
TEST_F(CudaEmuOptim, AdamWSgdF32) { steps<float>(); }
TEST_F(CudaEmuOptim, AdamWSgdBf16) { steps<engine::bf16>(); }
TEST_F(CudaEmuOptim, AdamWSgdF16) { steps<engine::f16>(); }
TEST_F(CudaEmuOptim, GradNormScaleF32) { norms<float>(262145); }
TEST_F(CudaEmuOptim, GradNormScaleHalf) { norms<engine::bf16>(5003); norms<engine::f16>(5003); }
