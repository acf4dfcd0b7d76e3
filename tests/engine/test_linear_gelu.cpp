// linear_gelu_tanh (ops/linalg): on the CPU it must be the composite gelu_tanh(linear(..))
// bit for bit — forward, every gradient, kernel counters, saved bytes, nodes — for every
// dtype, both weight layouts, with and without bias, strided x, autocast, frozen inputs; and
// gradcheck in f64. record_gelu_tanh (the recording a fused GPU kernel's output gets) must
// give gelu_tanh's gradients. On a GPU (skipped without one): cuda::matmul_into's GELU
// epilogue and the op against the CPU in f64 for f32/bf16/f16, forward and all gradients,
// fused shapes and the shapes (and the classic-cuBLAS path) that fall back to GEMM + gelu_tanh
// — the counters tell which path ran.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "engine/autograd/gradcheck.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/cuda_parity.h"
#include "engine/ops/autocast.h"
#include "engine/ops/unary_record.h"

using namespace engine;
using namespace cuda_parity;

namespace {

struct Config {
  std::string name;
  Shape x;  // logical shape [..., in]
  int64_t out;
  bool bias, in_out, strided_x;
};

const std::vector<Config>& configs() {
  static const std::vector<Config> c = {
      {"2d bias out_in", {7, 5}, 6, true, false, false},
      {"2d no bias in_out", {7, 5}, 6, false, true, false},
      {"3d bias in_out strided", {2, 3, 5}, 4, true, true, true},
      {"3d no bias out_in strided", {2, 3, 5}, 9, false, false, true},
  };
  return c;
}

// Leaves of one config in dtype dt: x (a transposed view when strided_x), W, and b if it has one.
std::vector<Tensor> leaves(const Config& c, DType dt, uint64_t seed) {
  Generator gen(seed);
  Shape xs = c.x;
  if (c.strided_x) std::swap(xs[xs.size() - 1], xs[xs.size() - 2]);
  Tensor x = randn(xs, DType::f64, gen).to(dt);
  if (c.strided_x) x = x.transpose(-2, -1);
  const int64_t in = c.x.back();
  Tensor w = (randn(c.in_out ? Shape{in, c.out} : Shape{c.out, in}, DType::f64, gen) * 0.5).to(dt);
  std::vector<Tensor> v{x.detach().requires_grad_(), w.detach().requires_grad_()};
  if (c.bias) v.push_back(randn({c.out}, DType::f64, gen).to(dt).detach().requires_grad_());
  return v;
}

Tensor bias_of(const std::vector<Tensor>& v) { return v.size() > 2 ? v[2] : Tensor{}; }
WeightLayout layout_of(const Config& c) { return c.in_out ? WeightLayout::in_out : WeightLayout::out_in; }
Tensor fused(const Config& c, const std::vector<Tensor>& v) {
  return linear_gelu_tanh(v[0], v[1], bias_of(v), layout_of(c));
}
Tensor composite(const Config& c, const std::vector<Tensor>& v) {
  return gelu_tanh(linear(v[0], v[1], bias_of(v), layout_of(c)));
}

void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.defined(), want.defined()) << what;
  if (!got.defined()) return;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  EXPECT_EQ(got.to_vector<double>(), want.to_vector<double>()) << what;
}

// Runs fn forward and backward (loss Σ out·g) and returns out with the leaves' gradients.
std::vector<Tensor> run(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& v,
                        uint64_t seed) {
  Tensor out = fn(v);
  Generator gen(seed);
  sum(mul(out, randn(out.shape(), DType::f64, gen).to(out.dtype()))).backward();
  std::vector<Tensor> r{out.detach()};
  for (const Tensor& t : v) r.push_back(t.requires_grad() ? t.grad() : Tensor{});
  return r;
}

}  // namespace

TEST(LinearGelu, CpuEqualsTheCompositeBitForBit) {
  for (const Config& c : configs())
    for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
      const std::string what = c.name + " " + dtype_name(dt);
      auto a = run([&](auto& v) { return fused(c, v); }, leaves(c, dt, 1), 2);
      auto b = run([&](auto& v) { return composite(c, v); }, leaves(c, dt, 1), 2);
      for (size_t i = 0; i < a.size(); ++i) expect_identical(a[i], b[i], what + " #" + std::to_string(i));
    }
}

TEST(LinearGelu, CpuCountersSavedBytesAndNodesMatchTheComposite) {
  for (const Config& c : configs())
    for (bool frozen_w : {false, true}) {
      auto measure = [&](bool use_fused) {
        auto v = leaves(c, DType::f32, 3);
        if (frozen_w) v[1] = v[1].detach();
        reset_counters();
        run([&](auto& t) { return use_fused ? fused(c, t) : composite(c, t); }, v, 4);
        return counters();
      };
      Counters f = measure(true), k = measure(false);
      const std::string what = c.name + (frozen_w ? " frozen W" : "");
      EXPECT_EQ(f.bytes_saved, k.bytes_saved) << what;
      EXPECT_EQ(f.nodes_recorded, k.nodes_recorded) << what;
      ASSERT_EQ(f.kernels.size(), k.kernels.size()) << what;
      for (const auto& [name, kc] : k.kernels) {
        ASSERT_TRUE(f.kernels.count(name)) << what << ": " << name;
        EXPECT_EQ(f.kernels.at(name).forward, kc.forward) << what << ": " << name;
        EXPECT_EQ(f.kernels.at(name).backward, kc.backward) << what << ": " << name;
        EXPECT_EQ(f.kernels.at(name).flops, kc.flops) << what << ": " << name;
      }
      EXPECT_EQ(f.backward_count("linear.dw"), frozen_w ? 0 : 1) << what;
      EXPECT_EQ(f.count("gelu_tanh"), 2) << what;  // forward + backward
    }
}

TEST(LinearGelu, GradcheckF64BothLayoutsBiasAndStridedX) {
  for (const Config& c : configs()) {
    auto r = autograd::gradcheck([&](const std::vector<Tensor>& v) { return fused(c, v); }, leaves(c, DType::f64, 5));
    EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
  }
}

// Autocast as linear: f32 leaves, bf16 GEMM and activation, f32 gradients; same as the composite.
TEST(LinearGelu, CpuAutocastMatchesTheComposite) {
  const Config& c = configs()[0];
  auto under_autocast = [&](bool use_fused) {
    AutocastGuard guard(DType::bf16, /*cpu=*/true);
    return run([&](auto& v) { return use_fused ? fused(c, v) : composite(c, v); }, leaves(c, DType::f32, 6), 7);
  };
  auto a = under_autocast(true), b = under_autocast(false);
  EXPECT_EQ(a[0].dtype(), DType::bf16);
  for (size_t i = 0; i < a.size(); ++i) expect_identical(a[i], b[i], "autocast #" + std::to_string(i));
  EXPECT_EQ(a[1].dtype(), DType::f32);
}

TEST(LinearGelu, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({3, 5}), w = zeros({4, 6});
  EXPECT_THROW(linear_gelu_tanh(x, w), ShapeError);
  EXPECT_THROW(linear_gelu_tanh(x, zeros({4, 5}), zeros({3})), ShapeError);
  EXPECT_THROW(linear_gelu_tanh(zeros({3, 5}, DType::i64), zeros({4, 5}, DType::i64)), DTypeError);
}

// The recording a fused kernel's activation gets: gelu_tanh's node over the pre-activation.
TEST(LinearGelu, RecordGeluTanhGivesTheCompositeGradients) {
  Generator gen(8);
  Tensor x0 = randn({4, 6}, DType::f64, gen);
  auto grads = [&](bool recorded) {
    Tensor x = x0.detach().requires_grad_();
    Tensor pre = mul(x, 1.5);  // a non-leaf, as linear's output is
    Tensor y;
    if (recorded) {
      Tensor act;
      {
        NoGradGuard no_grad;
        act = gelu_tanh(pre);
      }
      y = detail::record_gelu_tanh(pre, act);
    } else {
      y = gelu_tanh(pre);
    }
    sum(mul(y, y)).backward();
    return std::vector<Tensor>{y.detach(), x.grad()};
  };
  auto a = grads(true), b = grads(false);
  expect_identical(a[0], b[0], "forward");
  expect_identical(a[1], b[1], "grad");
  EXPECT_THROW(detail::record_gelu_tanh(zeros({2, 3}), zeros({3, 2})), ValueError);
  EXPECT_THROW(detail::record_gelu_tanh(zeros({2, 3}), zeros({2, 3}, DType::f64)), ValueError);
}

// ---- on a GPU

// cuda::matmul_into's GELU epilogue: pre = a @ b (+ bias) and out = gelu_tanh(pre) against f64
// on the CPU; N = 40 (aux ld a multiple of 8: fused) and N = 33 (not: GEMM + gelu_tanh), the
// classic-cuBLAS path, a batched product; the counters tell which path ran.
TEST(CudaLinearGelu, MatmulIntoGeluEpilogueMatchesF64) {
  REQUIRE_GPU();
  struct ClassicCublas {
    explicit ClassicCublas(bool on) { cuda::use_classic_cublas_for_testing(on); }
    ~ClassicCublas() { cuda::use_classic_cublas_for_testing(false); }
  };
  for (bool classic : {false, true})
    for (DType dt : {DType::f32, DType::bf16, DType::f16})
      for (Shape a_shape : {Shape{37, 24}, Shape{3, 11, 24}})
        for (int64_t N : {40, 33})
          for (bool with_bias : {true, false}) {
            ClassicCublas path(classic);
            const std::string what = std::string(classic ? "classic " : "lt ") + dtype_name(dt) + " " +
                                     shape_str(a_shape) + " N=" + std::to_string(N) + (with_bias ? " bias" : "");
            auto [a_ref, a_dev] = make_leaf(a_shape, dt, false, false, 11);
            auto [b_ref, b_dev] = make_leaf({24, N}, dt, true, false, 12);
            auto [bias_ref, bias_dev] = make_leaf({N}, dt, false, false, 13);
            Tensor pre_ref = matmul(a_ref.detach(), b_ref.detach());
            if (with_bias) pre_ref = add(pre_ref, bias_ref.detach());
            Tensor out = full(pre_ref.shape(), 7.0, dt, Device::cuda());  // 7: must be overwritten
            Tensor pre = full(pre_ref.shape(), 7.0, dt, Device::cuda());
            reset_counters();
            cuda::matmul_into("gemm", a_dev.detach(), b_dev.detach(), out, false,
                              with_bias ? bias_dev.detach() : Tensor{}, pre);
            // Asserted where cuBLASLt surely has GELU_AUX kernels (2-d half-precision GEMMs, as
            // torch's _addmm_activation relies on); f32 and batched products may go either way.
            const bool fused_expected = !classic && N % 8 == 0 && dt != DType::f32 && a_shape.size() == 2;
            EXPECT_EQ(counters().count("gemm"), 1) << what;
            if (fused_expected) EXPECT_EQ(counters().count("gelu_tanh"), 0) << what << ": cuBLASLt did not fuse";
            if (classic || N % 8 != 0) EXPECT_EQ(counters().count("gelu_tanh"), 1) << what << ": fallback not taken";
            expect_close(pre, pre_ref, dt, what + " pre");
            expect_close(out, gelu_tanh(pre_ref), dt, what + " out");
          }
  Tensor a = zeros({4, 8}, DType::bf16).to(Device::cuda()), b = zeros({8, 16}, DType::bf16).to(Device::cuda());
  Tensor out = empty({4, 16}, DType::bf16, Device::cuda());
  EXPECT_THROW(cuda::matmul_into("gemm", a, b, out, true, {}, empty({4, 16}, DType::bf16, Device::cuda())), ValueError);
  EXPECT_THROW(cuda::matmul_into("gemm", a, b, out, false, {}, empty({4, 16}, DType::f32, Device::cuda())), ValueError);
  EXPECT_THROW(cuda::matmul_into("gemm", a, b, out, false, {}, empty({4, 8}, DType::bf16, Device::cuda())), ValueError);
  EXPECT_THROW(cuda::matmul_into("gemm", a, b, out, false, {}, out), ValueError);  // aux and D must differ
}

// The op through autograd: forward and every gradient against the CPU in f64 (f32 / bf16 /
// f16, contiguous and transposed leaves), fused (out 40, 64) and fallback (out 33) shapes,
// odd row counts, both layouts, with and without bias; and the classic-cuBLAS path.
TEST(CudaLinearGelu, ForwardAndGradientsMatchTheCpu) {
  REQUIRE_GPU();
  const std::vector<Case> cases = {
      {"fused bias odd rows", [](auto& v) { return linear_gelu_tanh(v[0], v[1], v[2]); }, {{37, 48}, {40, 48}, {40}}},
      {"fused no bias 3d", [](auto& v) { return linear_gelu_tanh(v[0], v[1]); }, {{3, 13, 40}, {64, 40}}},
      {"fused in_out bias", [](auto& v) { return linear_gelu_tanh(v[0], v[1], v[2], WeightLayout::in_out); },
       {{21, 40}, {40, 64}, {64}}},
      {"fallback out 33", [](auto& v) { return linear_gelu_tanh(v[0], v[1], v[2]); }, {{19, 40}, {33, 40}, {33}}},
  };
  check_all(cases);
  cuda::use_classic_cublas_for_testing(true);
  check_all({cases[0], cases[2]});
  cuda::use_classic_cublas_for_testing(false);
}

// On a GPU the fused op runs one GEMM and no gelu kernel where the composite runs both, and
// the backward runs the same kernels; the results agree to the GPU's rounding.
TEST(CudaLinearGelu, FusedRunsOneKernelAndMatchesTheGpuComposite) {
  REQUIRE_GPU();
  Generator gen(14);
  Tensor x0 = randn({64, 96}, DType::f32, gen), w0 = randn({128, 96}, DType::f32, gen);
  Tensor b0 = randn({128}, DType::f32, gen);
  auto go = [&](bool use_fused) {
    std::vector<Tensor> v;
    for (const Tensor& t : {x0, w0, b0}) v.push_back(t.to(DType::bf16).to(Device::cuda()).detach().requires_grad_());
    reset_counters();
    Tensor y = use_fused ? linear_gelu_tanh(v[0], v[1], v[2]) : gelu_tanh(linear(v[0], v[1], v[2]));
    Counters fwd = counters();
    sum(mul(y, y)).backward();
    Counters all = counters();
    return std::make_tuple(y.detach(), v, fwd, all);
  };
  auto [yf, vf, fwd_f, all_f] = go(true);
  auto [yc, vc, fwd_c, all_c] = go(false);
  EXPECT_EQ(fwd_f.count("linear"), 1);
  EXPECT_EQ(fwd_f.count("gelu_tanh"), 0) << "cuBLASLt declined the GELU epilogue for a bf16 64x96 -> 128 linear";
  EXPECT_EQ(fwd_c.count("gelu_tanh"), 1);
  for (const char* k : {"linear.dx", "linear.dw", "linear.db", "gelu_tanh"})
    EXPECT_EQ(all_f.backward_count(k), all_c.backward_count(k)) << k;
  expect_close(yf, to_dtype(yc, DType::f64).to(Device::cpu()), DType::bf16, "forward");
  for (size_t i = 0; i < vf.size(); ++i)
    expect_close(vf[i].grad(), to_dtype(vc[i].grad(), DType::f64).to(Device::cpu()), DType::bf16,
                 "grad " + std::to_string(i));
}
