// CUDA cross-entropy and optimizers. CudaLossMath / CudaOptimMath run everywhere: they test
// the __host__ __device__ per-element maths the kernels use (online softmax statistics, the
// AdamW / SGD updates) against the CPU backend, bit for bit where the kernels promise it.
// CudaLossParity / CudaOptimParity compare the GPU with the CPU and skip without a device;
// CudaLossOptimNoDevice checks the typed errors on machines without one. The multi-tensor
// optimizer's GPU tests are in test_cuda_optim_multi.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/backend/cuda/cuda_optim.h"
#include "engine/backend/cuda/loss_kernels.h"
#include "engine/backend/cuda/optim_kernels.h"
#include "engine/cuda_parity.h"
#include "engine/optim/adamw.h"
#include "engine/optim/grad_utils.h"
#include "engine/optim/sgd.h"

using namespace engine;
using namespace cuda_parity;
namespace k = engine::cuda::kernels;

namespace {

// Statistics of x[0, n) pushed in `chunks` interleaved stretches, merged in a tree, as a block does.
k::XentStats block_stats(const std::vector<float>& x, int chunks) {
  std::vector<k::XentStats> part(size_t(chunks), k::xent_empty());
  for (size_t i = 0; i < x.size(); ++i) part[i % size_t(chunks)] = k::xent_push(part[i % size_t(chunks)], x[i]);
  for (int s = chunks / 2; s > 0; s /= 2)
    for (int t = 0; t < s; ++t) part[size_t(t)] = k::xent_merge(part[size_t(t)], part[size_t(t + s)]);
  return part[0];
}

}  // namespace

TEST(CudaLossMath, OnlineStatisticsAndRowLossMatchTheCpu) {
  Generator gen(3);
  const int64_t N = 9, C = 301;
  Tensor x = mul(randn({N, C}, DType::f32, gen), 4.0);
  std::vector<float> xv = x.to_vector<float>();
  for (int64_t c = 0; c < C; c += 7) xv[size_t(2 * C + c)] = -INFINITY;  // −inf logits add nothing
  x = from_vector(xv, {N, C});
  std::vector<int64_t> tv = {3, 0, 5, -100, 300, 7, 150, -100, 42};
  Tensor t = from_vector(tv, {N});
  for (double eps : {0.0, 0.1}) {
    auto want = cross_entropy(x, t, -100, eps, Reduction::none).to_vector<double>();
    for (int64_t r = 0; r < N; ++r) {
      std::vector<float> row(xv.begin() + r * C, xv.begin() + (r + 1) * C);
      for (int chunks : {1, 8, 256}) {
        k::XentStats st = block_stats(row, chunks);
        float lse = 0;
        const bool ignored = tv[size_t(r)] == -100;
        float loss = k::xent_row_loss(st, ignored ? 0.f : row[size_t(tv[size_t(r)])], C, eps, ignored, &lse);
        double ref = -INFINITY, s = 0;
        for (float v : row) ref = std::max(ref, double(v));
        for (float v : row) s += std::exp(double(v) - ref);
        EXPECT_NEAR(lse, ref + std::log(s), 1e-5 * (1 + std::abs(ref))) << r << " chunks " << chunks;
        if (eps != 0 && r == 2) continue;  // mean of a row with −inf entries is −inf: NaN both sides
        EXPECT_NEAR(loss, want[size_t(r)], 1e-4 * (1 + std::abs(want[size_t(r)]))) << r << " eps " << eps;
      }
    }
  }
  // A +inf logit (alone, or two in one stretch) and a row of −inf only: NaN lse and loss, as the
  // CPU's exp(inf − inf) (online statistics alone would say lse = +inf for a single +inf).
  const std::vector<std::vector<float>> odd_rows = {
      {1.f, INFINITY, 2.f}, {INFINITY, 0.f, INFINITY}, {-INFINITY, -INFINITY, -INFINITY}};
  for (const auto& row : odd_rows) {
    Tensor cpu = cross_entropy(from_vector(row, {1, 3}), from_vector(std::vector<int64_t>{0}, {1}), -100, 0.0,
                               Reduction::none);
    EXPECT_TRUE(std::isnan(cpu.item<double>())) << row[0] << " " << row[1];
    for (int chunks : {1, 2, 4}) {
      float lse = 0;
      const float loss = k::xent_row_loss(block_stats(row, chunks), row[0], 3, 0.0, false, &lse);
      EXPECT_TRUE(std::isnan(lse) && std::isnan(loss)) << row[0] << " " << row[1] << " chunks " << chunks;
    }
  }
  // An all −inf stretch merges as empty; a NaN logit makes the row NaN.
  k::XentStats e = k::xent_merge(k::xent_empty(), k::xent_push(k::xent_empty(), -INFINITY));
  EXPECT_EQ(e.s, 0.f);
  EXPECT_TRUE(std::isnan(k::xent_merge(k::xent_push(k::xent_empty(), NAN), k::xent_push(k::xent_empty(), 1.f)).s));
}

TEST(CudaLossMath, GradientElementMatchesTheCpuBackward) {
  Generator gen(5);
  const int64_t N = 4, C = 67;
  Tensor x = randn({N, C}, DType::f32, gen).requires_grad_();
  std::vector<int64_t> tv = {1, -100, 66, 0};
  Tensor t = from_vector(tv, {N}), g = randn({N}, DType::f32, gen);
  const double eps = 0.2;
  sum(mul(cross_entropy(x, t, -100, eps, Reduction::none), g)).backward();
  auto want = x.grad().to_vector<float>();
  auto xv = x.detach().to_vector<float>();
  auto gv = g.to_vector<float>();
  for (int64_t r = 0; r < N; ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, double(xv[size_t(r * C + c)]));
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(xv[size_t(r * C + c)]) - m);
    const float lse = float(m + std::log(s)), gr = tv[size_t(r)] == -100 ? 0.f : gv[size_t(r)];
    const float off = float(eps / double(C)), sub = float((1 - eps) * double(gr));
    for (int64_t c = 0; c < C; ++c) {
      float got = k::xent_grad(xv[size_t(r * C + c)], lse, off, gr, c == tv[size_t(r)], sub);
      EXPECT_NEAR(got, want[size_t(r * C + c)], 1e-6) << r << "," << c;
    }
  }
}

// The shared AdamW update, run on the host with the scalars adamw.cpp derives, against the CPU
// optimizer itself: the same bits after several steps (f32 and bf16 parameters, amsgrad).
TEST(CudaOptimMath, AdamWUpdateIsBitIdenticalToTheCpuOptimizer) {
  for (DType dt : {DType::f32, DType::bf16})
    for (bool amsgrad : {false, true}) {
      Generator gen(11);
      const int64_t n = 37;
      Tensor p = randn({n}, DType::f32, gen).to(dt).requires_grad_();
      optim::AdamWOptions o{.lr = 3e-3, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.05,
                            .amsgrad = amsgrad};
      optim::AdamW opt({{"p", p}}, o);
      std::vector<float> w = p.detach().to(DType::f32).to_vector<float>(), m(n, 0), v(n, 0), vmax(n, 0);
      for (int step = 1; step <= 6; ++step) {
        Tensor g = randn({n}, DType::f32, gen);
        p.set_grad(g.to(dt));
        opt.step();
        const double bc1 = 1 - std::pow(o.beta1, double(step)), bc2 = std::sqrt(1 - std::pow(o.beta2, double(step)));
        const k::AdamWScalars s{float(1 - o.lr * o.weight_decay), float(o.beta1), float(o.beta2), float(1 - o.beta1),
                                float(1 - o.beta2), float(-(o.lr / bc1)), float(bc2), float(o.eps), amsgrad};
        auto gv = g.to(dt).to(DType::f32).to_vector<float>();
        for (int64_t i = 0; i < n; ++i) {
          float nw = k::adamw_update(w[size_t(i)], gv[size_t(i)], m[size_t(i)], v[size_t(i)], &vmax[size_t(i)], s);
          w[size_t(i)] = from_vector(std::vector<float>{nw}, {1}).to(dt).to(DType::f32).item<float>();
        }
      }
      EXPECT_EQ(bits(p), bits(from_vector(w, {n}))) << dtype_name(dt) << " amsgrad " << amsgrad;
      EXPECT_EQ(bits(opt.params()[0].state[0]), bits(from_vector(m, {n})));
      EXPECT_EQ(bits(opt.params()[0].state[1]), bits(from_vector(v, {n})));
    }
}

TEST(CudaOptimMath, SgdUpdateIsBitIdenticalToTheCpuOptimizer) {
  const std::vector<optim::SGDOptions> configs = {
      {.lr = 0.1, .momentum = 0.9, .dampening = 0.0, .weight_decay = 0.01, .nesterov = true},
      {.lr = 0.05, .momentum = 0.5, .dampening = 0.3, .weight_decay = 0.0, .nesterov = false},
      {.lr = 0.2}};
  for (const auto& o : configs) {
    Generator gen(13);
    const int64_t n = 29;
    Tensor p = randn({n}, DType::f32, gen).requires_grad_();
    optim::SGD opt({{"p", p}}, o);
    std::vector<float> w = p.detach().to_vector<float>(), buf(n, 0);
    for (int step = 1; step <= 5; ++step) {
      Tensor g = randn({n}, DType::f32, gen);
      p.set_grad(g);
      opt.step();
      const k::SGDScalars s{float(o.weight_decay), float(o.momentum), float(1 - o.dampening), float(-o.lr),
                            o.weight_decay != 0, o.momentum != 0, o.nesterov, step == 1};
      auto gv = g.to_vector<float>();
      for (int64_t i = 0; i < n; ++i) w[size_t(i)] = k::sgd_update(w[size_t(i)], gv[size_t(i)], &buf[size_t(i)], s);
    }
    EXPECT_EQ(bits(p), bits(from_vector(w, {n}))) << "momentum " << o.momentum;
  }
}

TEST(CudaOptimMath, MaskedEntriesScatterThroughTheIndices) {
  const int64_t rows[] = {1, 4};
  EXPECT_EQ(k::masked_entry(5, nullptr, 1), 5);
  EXPECT_EQ(k::masked_entry(0, rows, 3), 3);  // row mask of width 3: compact 0..5 -> 3,4,5,12,13,14
  EXPECT_EQ(k::masked_entry(2, rows, 3), 5);
  EXPECT_EQ(k::masked_entry(3, rows, 3), 12);
  EXPECT_EQ(k::masked_entry(5, rows, 3), 14);
  EXPECT_EQ(k::masked_entry(1, rows, 1), 4);  // element mask
}

TEST(CudaLossOptimNoDevice, GpuTensorsGetTypedErrorsNamingTheOp) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present: ops run instead of throwing";
  Tensor x = fake_cuda_tensor({3, 5}), t = from_vector(std::vector<int64_t>{0, 1, 2}, {3});
  expect_no_kernel_error("cross_entropy", [&] { cross_entropy(x, t); });
  Tensor p = fake_cuda_tensor({4});
  p.requires_grad_();
  p.set_grad(fake_cuda_tensor({4}));
  EXPECT_THROW(optim::AdamW({{"p", p}}), NoKernelError);  // its state cannot be created
  expect_no_kernel_error("clip_grad_norm_", [&] { optim::clip_grad_norm_({p}, 1.0); }, /*names_device=*/false);
}

// ---------------------------------------------------------------- on a GPU (skip without one)

namespace {

Tensor targets_for(int64_t N, int64_t C) {
  std::vector<int64_t> t(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) t[size_t(i)] = i % 4 == 3 ? -100 : (i * 7919 + 3) % C;
  return from_vector(t, {N});
}

}  // namespace

TEST(CudaLossParity, CrossEntropyValuesAndLogitGradientsMatchTheCpu) {
  REQUIRE_GPU();
  // 517 rows: more than two per thread of the one-block reduction (its row loop is exercised).
  const std::pair<int64_t, int64_t> shapes[] = {{37, 1003}, {5, 3}, {2, 4099}, {517, 11}};
  for (auto [N, C] : shapes)
    for (DType dt : {DType::f32, DType::bf16, DType::f16})
      for (bool transposed : {false, true})
        for (double eps : {0.0, 0.1})
          for (Reduction red : {Reduction::none, Reduction::mean, Reduction::sum}) {
            std::string what = "cross_entropy [" + std::to_string(N) + "," + std::to_string(C) + "] " +
                               dtype_name(dt) + (transposed ? " transposed" : "") + " eps " + std::to_string(eps) +
                               " reduction " + std::to_string(int(red));
            auto [ref, dev] = make_leaf({N, C}, dt, transposed, false, 21);
            Tensor t = targets_for(N, C);
            // Targets on the host once (moved by the op), on the device otherwise.
            Tensor out_ref = cross_entropy(ref, t, -100, eps, red);
            Tensor out_dev = cross_entropy(dev, transposed ? t : t.to(Device::cuda()), -100, eps, red);
            ASSERT_EQ(out_dev.device(), Device::cuda()) << what;
            ASSERT_EQ(out_dev.dtype(), dt) << what;
            expect_close(out_dev, out_ref, dt, what + " forward");
            Generator gen(9);
            Tensor w = randn(out_ref.shape(), DType::f64, gen).to(dt).to(DType::f64);
            sum(mul(out_ref, w)).backward();
            sum(mul(out_dev, w.to(dt).to(Device::cuda()))).backward();
            ASSERT_TRUE(dev.grad().defined()) << what;
            EXPECT_EQ(dev.grad().device(), Device::cuda()) << what;
            expect_close(dev.grad(), ref.grad(), dt, what + " grad");
          }
}

TEST(CudaLossParity, BadTargetsAllIgnoredRowsAndDeterminism) {
  REQUIRE_GPU();
  Tensor x = randn({6, 50}).to(Device::cuda());
  Tensor bad = from_vector(std::vector<int64_t>{0, 1, 50, 3, -100, 4}, {6});
  EXPECT_THROW(cross_entropy(x, bad.to(Device::cuda())), IndexError);
  Tensor ignored = full({6}, -100.0, DType::i64).to(Device::cuda());
  EXPECT_TRUE(std::isnan(cross_entropy(x, ignored).to(Device::cpu()).item<double>()));  // 0/0, as the CPU
  EXPECT_EQ(cross_entropy(x, ignored, -100, 0.0, Reduction::sum).to(Device::cpu()).item<double>(), 0.0);
  {  // mean over no rows scales by 1/0 = inf; every row's gradient is still exactly 0, as the CPU's
    Tensor leaf = x.detach().requires_grad_();
    cross_entropy(leaf, ignored, -100, 0.1).backward();
    for (float v : leaf.grad().to(Device::cpu()).to_vector<float>()) ASSERT_EQ(v, 0.f);
  }
  auto run = [&] {
    Tensor leaf = x.detach().requires_grad_();
    Tensor loss = cross_entropy(leaf, targets_for(6, 50).to(Device::cuda()), -100, 0.1);
    loss.backward();
    return std::make_pair(bits(loss), bits(leaf.grad()));
  };
  EXPECT_EQ(run(), run());
}

namespace {

// A trainable CPU parameter and its GPU twin (same values), with the same mask.
struct Twin {
  Tensor cpu, gpu;
};

Twin twin(const Shape& shape, DType dt, uint64_t seed, int mask) {
  Generator gen(seed);
  Tensor base = randn(shape, DType::f32, gen).to(dt);
  Twin t{base.clone().requires_grad_(), base.to(Device::cuda()).detach().requires_grad_()};
  Tensor elements = gt(randn(shape, DType::f32, gen), 0.3);  // the same element mask on both sides
  for (const Tensor& p : {t.cpu, t.gpu}) {
    if (mask == 1) set_row_mask(p, {1, 7, shape[0] - 1});
    if (mask == 2) set_element_mask(p, elements);
  }
  return t;
}

// Runs `steps` steps of the optimizer made by `make` on both sides with the same gradients.
template <typename Make>
void run_both(std::vector<Twin>& ps, DType dt, int steps, Make make, uint64_t seed = 1) {
  optim::NamedTensors cn, gn;
  for (size_t i = 0; i < ps.size(); ++i)
    cn.push_back({"p" + std::to_string(i), ps[i].cpu}), gn.push_back({"p" + std::to_string(i), ps[i].gpu});
  auto oc = make(cn), og = make(gn);
  Generator gen(seed);
  for (int s = 0; s < steps; ++s) {
    for (Twin& p : ps) {
      Tensor g = randn(compact_shape(p.cpu), DType::f32, gen).to(dt);
      p.cpu.set_grad(g);
      p.gpu.set_grad(g.to(Device::cuda()));
    }
    oc.step();
    og.step();
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_EQ(bits(ps[i].gpu), bits(ps[i].cpu)) << "parameter " << i << " " << dtype_name(dt);
    for (size_t s = 0; s < oc.params()[i].state.size(); ++s) {
      EXPECT_EQ(og.params()[i].state[s].device(), Device::cuda());
      EXPECT_EQ(bits(og.params()[i].state[s]), bits(oc.params()[i].state[s])) << "state " << s;
    }
  }
}

}  // namespace

TEST(CudaOptimParity, AdamWAndSgdStepsEqualTheCpuBitForBit) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
    for (bool amsgrad : {false, true}) {
      std::vector<Twin> ps = {twin({37, 29}, dt, 1, 0), twin({1000}, dt, 2, 0), twin({50, 6}, dt, 3, 1),
                              twin({9, 11}, dt, 4, 2)};
      run_both(ps, dt, 5, [&](const optim::NamedTensors& p) {
        return optim::AdamW(p, {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = amsgrad});
      });
    }
    std::vector<Twin> ps = {twin({37, 29}, dt, 5, 0), twin({50, 6}, dt, 6, 1), twin({9, 11}, dt, 7, 2)};
    run_both(ps, dt, 4, [](const optim::NamedTensors& p) {
      return optim::SGD(p, {.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
    });
    run_both(ps, dt, 3, [](const optim::NamedTensors& p) {
      return optim::SGD(p, {.lr = 0.1, .momentum = 0.5, .dampening = 0.2});
    });
    run_both(ps, dt, 2, [](const optim::NamedTensors& p) {  // no momentum buffer, weight decay only
      return optim::SGD(p, {.lr = 0.2, .weight_decay = 0.05});
    });
  }
}

TEST(CudaOptimParity, ClipGradNormMatchesTheCpu) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16})
    for (double p : {2.0, double(INFINITY), 3.0}) {
      std::vector<Tensor> cpu_params, gpu_params;
      Generator gen(17);
      for (int64_t n : {int64_t(1), int64_t(1000), int64_t(300001)}) {  // the last spans many blocks
        Tensor g = randn({n}, DType::f32, gen).to(dt);
        Tensor a = zeros({n}, dt).requires_grad_(), b = zeros({n}, dt).to(Device::cuda()).requires_grad_();
        a.set_grad(g.clone());
        b.set_grad(g.to(Device::cuda()));
        cpu_params.push_back(a), gpu_params.push_back(b);
      }
      cpu_params.push_back(zeros({3}).requires_grad_());  // no gradient: ignored
      const double want = optim::clip_grad_norm_(cpu_params, 1.5, p);
      const double got = optim::clip_grad_norm_(gpu_params, 1.5, p);
      EXPECT_NEAR(got, want, 1e-10 * want) << dtype_name(dt) << " p " << p;
      for (size_t i = 0; i < gpu_params.size(); ++i)
        expect_close(gpu_params[i].grad(), cpu_params[i].grad().to(DType::f64), dt, "clipped grad");
    }
}

// scale_grads_ (clipping, loss-scale unscaling) gives the CPU's bits in every dtype: a half
// gradient's scale factor is rounded to the half type first, as the CPU's mul_ does.
TEST(CudaOptimParity, ScaleGradsEqualsTheCpuBitForBit) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
    Generator gen(23);
    Tensor g = randn({1001}, DType::f32, gen).to(dt);
    Tensor a = zeros({1001}, dt).requires_grad_(), b = zeros({1001}, dt).to(Device::cuda()).requires_grad_();
    a.set_grad(g.clone());
    b.set_grad(g.to(Device::cuda()));
    for (double s : {0.3, 1.0 / 3.0, 0.7071067811865476}) {
      optim::scale_grads_({a}, s);
      optim::scale_grads_({b}, s);
    }
    EXPECT_EQ(bits(b.grad()), bits(a.grad())) << dtype_name(dt);
  }
}

TEST(CudaOptimParity, StateDictRoundTripsThroughTheHost) {
  REQUIRE_GPU();
  std::vector<Twin> a = {twin({33, 7}, DType::f32, 8, 0), twin({20, 3}, DType::f32, 9, 1)};
  auto make = [](const optim::NamedTensors& p) { return optim::AdamW(p, {.lr = 1e-2}); };
  optim::NamedTensors named = {{"p0", a[0].gpu}, {"p1", a[1].gpu}};
  optim::AdamW first = make(named);
  Generator gen(4);
  auto grads = [&] {
    for (Twin& p : a) p.gpu.set_grad(randn(compact_shape(p.gpu), DType::f32, gen).to(Device::cuda()));
  };
  for (int s = 0; s < 3; ++s) grads(), first.step();
  optim::OptimizerState st = first.state_dict();
  for (const auto& [name, t] : st.tensors) EXPECT_TRUE(t.device().is_cpu()) << name;
  optim::AdamW second = make(named);
  second.load_state_dict(st);
  for (size_t i = 0; i < first.params().size(); ++i)
    for (size_t s = 0; s < first.params()[i].state.size(); ++s) {
      EXPECT_EQ(second.params()[i].state[s].device(), Device::cuda());
      EXPECT_EQ(bits(second.params()[i].state[s]), bits(first.params()[i].state[s]));
    }
  EXPECT_EQ(second.params()[1].step, 3);
}
