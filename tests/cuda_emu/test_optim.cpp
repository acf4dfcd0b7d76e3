// optim.cu under emulation (AdamW / SGD fused steps with and without a row mask, grad-norm
// partials + finish, scale) vs serial loops over the same per-element functions and f64 norms;
// the multi-tensor launches (one table of many parameters) vs the per-tensor kernels and the CPU
// optimizers (engine/optim) bit for bit over several steps, and the multi-tensor grad norm vs
// its fixed order and the CPU's grad_norm.
#include <cstring>

#include "emu_test.h"
#include "engine/autograd/grad_mask.h"
#include "engine/backend/cuda/common.cuh"  // kBlock
#include "engine/backend/cuda/optim_kernels.h"
#include "engine/core/tensor.h"
#include "engine/ops/binary.h"
#include "engine/optim/adamw.h"
#include "engine/optim/grad_utils.h"
#include "engine/optim/sgd.h"

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

// ---------------------------------------------------------------- multi-tensor launches
// One table over tensors of odd sizes (an empty one, one of exactly one chunk, some spanning
// several), mixed dtypes, row- and element-masked parameters, per-parameter weight decay and
// step counts (a parameter without a gradient at one step lags behind): after every step the
// multi-tensor kernel must give the per-tensor kernel's bits AND the CPU optimizer's bits.

namespace {

using engine::DType;
using engine::Tensor;

struct Param {
  Tensor cpu;  // updated by the CPU optimizer
  Tensor multi, single;  // copies updated by the emulated multi-tensor / per-tensor kernels
  std::vector<float> st_multi[3], st_single[3];
  int64_t step = 0;
  bool decay = true;
};

std::vector<uint32_t> bits_of(const Tensor& t) {
  std::vector<float> v = t.to(DType::f32).contiguous().to_vector<float>();
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * 4);
  return b;
}
std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * 4);
  return b;
}

// Shapes and masks: 0 none, 1 rows {0, 7, last}, 2 elements (x > 0.3 of a draw).
struct Spec {
  engine::Shape shape;
  int mask;
};
const std::vector<Spec> kSpecs = {{{1}, 0},   {{31}, 0},     {{0}, 0},      {{1000}, 0}, {{4099}, 0},
                                  {{4096}, 0}, {{50, 83}, 1}, {{9, 11}, 2}, {{257}, 0}};

std::vector<Param> make_params(const std::vector<DType>& dts, uint64_t seed) {
  engine::Generator gen(seed);
  std::vector<Param> ps;
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    const DType dt = dts[i % dts.size()];
    Param p;
    p.cpu = engine::randn(kSpecs[i].shape, DType::f32, gen).to(dt).requires_grad_();
    p.multi = p.cpu.detach().clone(), p.single = p.cpu.detach().clone();
    if (kSpecs[i].mask == 1) engine::set_row_mask(p.cpu, {0, 7, kSpecs[i].shape[0] - 1});
    if (kSpecs[i].mask == 2) engine::set_element_mask(p.cpu, engine::gt(engine::randn(kSpecs[i].shape, DType::f32, gen), 0.3));
    p.decay = i % 3 != 1;
    ps.push_back(std::move(p));
  }
  return ps;
}

// The mask indices (host = emulated device memory) and the entries per index.
std::pair<const int64_t*, int64_t> mask_of(const Param& p) {
  const engine::GradMask* m = engine::grad_mask(p.cpu);
  if (!m) return {nullptr, 1};
  const int64_t width = m->kind == engine::GradMask::Kind::rows ? p.cpu.numel() / p.cpu.size(0) : 1;
  return {m->indices.data<int64_t>(), width};
}

engine::optim::NamedTensors named(const std::vector<Param>& ps) {
  engine::optim::NamedTensors n;
  for (size_t i = 0; i < ps.size(); ++i) n.push_back({"p" + std::to_string(i), ps[i].cpu});
  return n;
}
engine::optim::DecayFilter decay_of(const std::vector<Param>& ps) {
  std::vector<bool> d;
  for (const Param& p : ps) d.push_back(p.decay);
  return [d](const std::string& name) { return bool(d[size_t(std::stoi(name.substr(1)))]); };
}

// Runs `steps` steps: the CPU optimizer `opt`, and the kernels through `run(params with a
// gradient, their gradients)`; then compares every parameter and state slot bit for bit.
template <typename Opt, typename Run>
void run_steps(std::vector<Param>& ps, Opt& opt, int slots, int steps, Run run, const std::string& what) {
  engine::Generator gen(99);
  for (Param& p : ps)
    for (int s = 0; s < slots; ++s)
      p.st_multi[s].assign(size_t(engine::shape_numel(engine::compact_shape(p.cpu))), 0.f), p.st_single[s] = p.st_multi[s];
  for (int step = 1; step <= steps; ++step) {
    opt.zero_grad();
    std::vector<Param*> with;
    std::vector<Tensor> grads;
    for (size_t i = 0; i < ps.size(); ++i) {
      if (step == 2 && i % 4 == 3) continue;  // no gradient: skipped, its step count lags
      Tensor g = engine::randn(engine::compact_shape(ps[i].cpu), DType::f32, gen);
      ps[i].cpu.set_grad(g);
      ++ps[i].step;
      with.push_back(&ps[i]), grads.push_back(g);
    }
    opt.step();
    run(with, grads);
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::string nm = what + " p" + std::to_string(i) + " " + engine::dtype_name(ps[i].cpu.dtype());
    EXPECT_EQ(ps[i].step, opt.params()[i].step) << nm;
    EXPECT_EQ(bits_of(ps[i].multi), bits_of(ps[i].single)) << nm << ": multi-tensor vs per-tensor kernel";
    EXPECT_EQ(bits_of(ps[i].multi), bits_of(ps[i].cpu.detach())) << nm << ": multi-tensor kernel vs CPU optimizer";
    for (int s = 0; s < slots; ++s) {
      EXPECT_EQ(bits_of(ps[i].st_multi[s]), bits_of(ps[i].st_single[s])) << nm << " state " << s;
      EXPECT_EQ(bits_of(ps[i].st_multi[s]), bits_of(opt.params()[i].state[size_t(s)])) << nm << " state " << s
                                                                                          << " vs CPU";
    }
  }
}

void adamw_multi(const std::vector<DType>& dts, bool amsgrad) {
  std::vector<Param> ps = make_params(dts, 5);
  const engine::optim::AdamWOptions o{.lr = 3e-3, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.05,
                                      .amsgrad = amsgrad};
  engine::optim::AdamW opt(named(ps), o, decay_of(ps));
  auto run = [&](std::vector<Param*>& with, std::vector<Tensor>& grads) {
    std::vector<K::AdamWTensor> table;
    for (size_t j = 0; j < with.size(); ++j) {
      Param& p = *with[j];
      // adamw.cpp's scalars: doubles as torch computes them, rounded to f32.
      const double wd = p.decay ? o.weight_decay : 0.0, bc1 = 1 - std::pow(o.beta1, double(p.step));
      const double bc2 = std::sqrt(1 - std::pow(o.beta2, double(p.step)));
      const K::AdamWScalars s{float(1 - o.lr * wd), float(o.beta1), float(o.beta2), float(1 - o.beta1),
                              float(1 - o.beta2), float(-(o.lr / bc1)), float(bc2), float(o.eps), amsgrad};
      auto [idx, width] = mask_of(p);
      const int dt = int(p.cpu.dtype());
      const float* g = grads[j].data<float>();
      const int64_t n = grads[j].numel();
      K::adamw_step(p.single.raw_data(), dt, g, p.st_single[0].data(), p.st_single[1].data(), p.st_single[2].data(),
                    n, idx, width, s);
      table.push_back({p.multi.raw_data(), g, p.st_multi[0].data(), p.st_multi[1].data(),
                       amsgrad ? p.st_multi[2].data() : nullptr, idx, width, n, 0, dt, s});
    }
    const int64_t chunks = K::assign_chunks(table.data(), int64_t(table.size()));
    K::adamw_multi_step(table.data(), int64_t(table.size()), chunks);
  };
  std::string what = std::string("adamw multi-tensor") + (amsgrad ? " amsgrad" : "");
  run_steps(ps, opt, amsgrad ? 3 : 2, 4, run, what);
}

void sgd_multi(const std::vector<DType>& dts, const engine::optim::SGDOptions& o) {
  std::vector<Param> ps = make_params(dts, 6);
  engine::optim::SGD opt(named(ps), o, decay_of(ps));
  const bool mom = o.momentum != 0;
  auto run = [&](std::vector<Param*>& with, std::vector<Tensor>& grads) {
    std::vector<K::SGDTensor> table;
    for (size_t j = 0; j < with.size(); ++j) {
      Param& p = *with[j];
      const double wd = p.decay ? o.weight_decay : 0.0;  // sgd.cpp's scalars
      const K::SGDScalars s{float(wd), float(o.momentum), float(1 - o.dampening), float(-o.lr), wd != 0, mom,
                            o.nesterov, p.step == 1};
      auto [idx, width] = mask_of(p);
      const int dt = int(p.cpu.dtype());
      const float* g = grads[j].data<float>();
      const int64_t n = grads[j].numel();
      K::sgd_step(p.single.raw_data(), dt, g, mom ? p.st_single[0].data() : nullptr, n, idx, width, s);
      table.push_back({p.multi.raw_data(), g, mom ? p.st_multi[0].data() : nullptr, idx, width, n, 0, dt, s});
    }
    K::sgd_multi_step(table.data(), int64_t(table.size()), K::assign_chunks(table.data(), int64_t(table.size())));
  };
  run_steps(ps, opt, mom ? 1 : 0, 4, run,
            "sgd multi-tensor momentum " + std::to_string(o.momentum) + (o.nesterov ? " nesterov" : ""));
}

const std::vector<DType> kF32 = {DType::f32}, kBf16 = {DType::bf16}, kF16 = {DType::f16},
                         kMixed = {DType::f32, DType::bf16, DType::f16};

// The norm the kernels must produce, in their exact order: per chunk, thread t sums entries
// t, t + 256, ... of the chunk, a halving tree over the 256 threads; then norm_finish: thread t
// sums partials t, t + 256, ..., the same tree. Any other order would show in the bits.
double norm_in_kernel_order(const std::vector<Tensor>& xs, double p) {
  const bool inf = std::isinf(p);
  auto op = [&](double a, double b) { return inf ? std::max(a, b) : a + b; };
  auto tree = [&](std::vector<double> sh) {
    for (size_t s = sh.size() / 2; s > 0; s >>= 1)
      for (size_t t = 0; t < s; ++t) sh[t] = op(sh[t], sh[t + s]);
    return sh[0];
  };
  std::vector<double> partials;
  for (const Tensor& x : xs) {
    std::vector<double> v = x.to(DType::f64).to_vector<double>();
    for (int64_t b = 0; b < int64_t(v.size()); b += K::kMultiChunk) {
      std::vector<double> sh(K::kBlock, 0.0);
      for (int64_t i = b; i < std::min<int64_t>(b + K::kMultiChunk, int64_t(v.size())); ++i) {
        const double a = std::abs(v[size_t(i)]);
        double& acc = sh[size_t((i - b) % K::kBlock)];
        acc = inf ? std::max(acc, a) : acc + (p == 2.0 ? a * a : std::pow(a, p));
      }
      partials.push_back(tree(sh));
    }
  }
  std::vector<double> sh(K::kBlock, 0.0);
  for (size_t i = 0; i < partials.size(); ++i) sh[i % K::kBlock] = op(sh[i % K::kBlock], partials[i]);
  return tree(sh);
}

void norm_and_scale_multi(int64_t big) {
  engine::Generator gen(31);
  std::vector<Tensor> params, grads;
  const int64_t sizes[] = {1, 31, 0, 1000, 4099, 4096, big, 257};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    const DType dt = kMixed[i % 3];
    Tensor g = engine::randn({sizes[i]}, DType::f32, gen).to(dt);
    Tensor p = engine::zeros({sizes[i]}, dt).requires_grad_();
    p.set_grad(g);
    params.push_back(p), grads.push_back(g);
  }
  std::vector<K::NormTensor> table;
  for (const Tensor& g : grads) table.push_back({g.raw_data(), g.numel(), 0, int(g.dtype()), 1.f});
  const int64_t chunks = K::assign_chunks(table.data(), int64_t(table.size()));
  for (double p : {2.0, 1.0, 3.0, double(INFINITY)}) {
    std::vector<double> partials(size_t(chunks), NAN), out(1, NAN);
    K::norm_multi_partials(table.data(), int64_t(table.size()), chunks, p, partials.data());
    K::norm_finish(partials.data(), chunks, std::isinf(p), out.data());
    const double in_order = norm_in_kernel_order(grads, p);
    EXPECT_EQ(out[0], in_order) << "grad norm multi-tensor p=" << p << ": not the fixed order";
    // engine::optim::grad_norm (CPU, its own chunk order) returns the p-th root.
    const double cpu = engine::optim::grad_norm(params, p);
    const double got = std::isinf(p) ? out[0] : p == 2.0 ? std::sqrt(out[0]) : std::pow(out[0], 1.0 / p);
    check("grad norm multi-tensor vs CPU grad_norm p=" + std::to_string(p).substr(0, 3), {got}, {cpu}, 1e-12);
  }
  // Scaling: the multi-tensor kernel vs scale_inplace per tensor, with each dtype's rounded factor.
  std::vector<Tensor> copies;
  for (K::NormTensor& e : table) {
    const Tensor& g = grads[copies.size()];
    copies.push_back(g.clone());
    e.s = float(engine::scalar(0.37, g.dtype()).to(DType::f64).item<double>());
    K::scale_inplace(copies.back().raw_data(), e.dt, e.n, double(e.s));
  }
  K::scale_multi(table.data(), int64_t(table.size()), chunks);
  for (size_t i = 0; i < grads.size(); ++i)
    EXPECT_EQ(bits_of(grads[i]), bits_of(copies[i])) << "scale multi-tensor tensor " << i;
}

}  // namespace

TEST(CudaEmuOptimTable, ChunksAndTensorLookup) {
  std::vector<K::NormTensor> t = {{nullptr, 5, 0, 0, 0}, {nullptr, 0, 0, 0, 0}, {nullptr, K::kMultiChunk, 0, 0, 0},
                                  {nullptr, 2 * K::kMultiChunk + 1, 0, 0, 0}, {nullptr, 0, 0, 0, 0}};
  EXPECT_EQ(K::assign_chunks(t.data(), 5), 5);  // 1 + 0 + 1 + 3 + 0
  const int64_t begins[] = {0, 1, 1, 2, 5};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t[size_t(i)].chunk_begin, begins[i]);
  const int64_t owner[] = {0, 2, 3, 3, 3};  // empty tensors own no chunk
  for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(K::find_tensor(t.data(), 5, c), owner[c]) << "chunk " << c;
  EXPECT_EQ(K::find_tensor(t.data(), 1, 0), 0);
}

using CudaEmuOptimMulti = EmuTest;
TEST_F(CudaEmuOptimMulti, AdamWEqualsPerTensorAndCpu) {
  for (const auto* dts : {&kF32, &kBf16, &kF16, &kMixed}) adamw_multi(*dts, false);
  adamw_multi(kMixed, true);
}
TEST_F(CudaEmuOptimMulti, SgdEqualsPerTensorAndCpu) {
  const std::vector<engine::optim::SGDOptions> configs = {
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.0, .weight_decay = 0.01, .nesterov = true},
      {.lr = 0.1, .momentum = 0.5, .dampening = 0.2, .weight_decay = 0.0, .nesterov = false},
      {.lr = 0.2, .momentum = 0.0, .dampening = 0.0, .weight_decay = 0.05, .nesterov = false}};
  for (const auto& o : configs)
    for (const auto* dts : {&kF32, &kMixed}) sgd_multi(*dts, o);
  sgd_multi(kBf16, configs[0]);
  sgd_multi(kF16, configs[1]);
}
TEST_F(CudaEmuOptimMulti, GradNormFixedOrderAndScale) { norm_and_scale_multi(70001); }
