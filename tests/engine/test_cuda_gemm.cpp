// cuBLASLt GEMMs (backend/cuda/gemm.cpp) against the CPU in f64: f32 / bf16 / f16 operands,
// same-dtype and f32 outputs, every transpose combination read in place, batched, broadcast
// and narrowed (misaligned, odd leading dimension) operands, accumulate, the bias epilogue,
// the TF32 switch; then matmul / linear through autograd, frozen weights and autocast on the
// GPU. Inputs are rounded to the tested dtype first, so each product is exact in f32 and the
// only errors are f32 accumulation and one rounding of the result: the bounds below are that
// tight, so a wrong kernel choice, stride or epilogue fails them. Skip without a GPU. The GELU
// epilogue's choice and aux layout are checked here on the host; its GPU tests are in test_linear_gelu.cpp.
#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/backend/cuda/gemm_layout.h"
#include "engine/cuda_parity.h"
#include "engine/ops/autocast.h"

using namespace engine;
using namespace cuda_parity;

namespace {

struct Operand {
  Tensor ref, dev;  // f64 on the CPU, dt on the GPU: the same values and the same view
};

// A [.., R, C] view of random values rounded to dt. transposed: stored [.., C, R] and viewed
// transposed (read in place with op T). narrowed: a column slice of a buffer one wider, so the
// start is one element off the allocation's alignment and the leading dimension is odd-sized.
Operand operand(Shape shape, DType dt, bool transposed, bool narrowed, uint64_t seed) {
  Shape stored = shape;
  if (transposed) std::swap(stored[stored.size() - 1], stored[stored.size() - 2]);
  if (narrowed) stored.back() += 1;
  Generator gen(seed);
  Tensor base = randn(stored, DType::f64, gen).to(dt).to(DType::f64);
  Tensor dev = base.to(dt).to(Device::cuda());
  auto view = [&](Tensor t) {
    if (narrowed) t = t.narrow(-1, 1, t.size(-1) - 1);
    return transposed ? t.transpose(-2, -1) : t;
  };
  return {view(base), view(dev)};
}

double unit_roundoff(DType dt) { return dt == DType::bf16 ? 0x1p-8 : dt == DType::f16 ? 0x1p-11 : 0x1p-24; }

// |got − want| ≤ u_out·(|want| + addend) + (u_in + K·2⁻²³)·(|a|·|b|) elementwise, where addend
// bounds |out₀ + bias| (the classic-cuBLAS fallback rounds that sum to out's dtype once more).
void expect_gemm_close(const Tensor& got, const Tensor& want, const Tensor& abs_ab, int64_t K, double u_out,
                       double u_in, const std::string& what, double addend = 0) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = got.to(Device::cpu()).to_vector<double>(), w = want.to_vector<double>(), s = abs_ab.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    double bound = 1.01 * (u_out * (std::abs(w[i]) + addend) + (u_in + double(K) * 0x1p-23) * s[i]) + 1e-30;
    if (!(std::abs(g[i] - w[i]) <= bound)) {
      ADD_FAILURE() << what << ": element " << i << " got " << g[i] << " want " << w[i] << " (bound " << bound << ")";
      return;
    }
  }
}

struct GemmCase {
  std::string name;
  Shape a, b;  // logical shapes
  bool ta = false, tb = false, narrow_a = false, narrow_b = false;
};

// out = a @ b (+ 0.5·ones when accumulate) (+ bias) through cuda::matmul_into vs f64 on the CPU.
void run_gemm(const GemmCase& c, DType in, DType out_dt, bool accumulate, bool with_bias) {
  std::string what = c.name + " " + dtype_name(in) + "->" + dtype_name(out_dt) + (accumulate ? " accumulate" : "") +
                     (with_bias ? " bias" : "");
  Operand a = operand(c.a, in, c.ta, c.narrow_a, 1), b = operand(c.b, in, c.tb, c.narrow_b, 2);
  Tensor want = matmul(a.ref, b.ref), abs_ab = matmul(abs(a.ref), abs(b.ref));
  const int64_t N = want.size(-1), K = c.a.back();
  Tensor out = full(want.shape(), accumulate ? 0.5 : 7.0, out_dt, Device::cuda());  // 7: must be overwritten
  if (accumulate) want = add(want, 0.5);
  Tensor bias_ref, bias_dev;
  double addend = 0;
  if (with_bias) {
    Generator gen(3);
    bias_ref = randn({N}, DType::f64, gen).to(out_dt).to(DType::f64);
    bias_dev = bias_ref.to(out_dt).to(Device::cuda());
    want = add(want, bias_ref);
    if (accumulate) addend = 0.5 + max(abs(bias_ref)).item<double>();
  }
  cuda::matmul_into("gemm", a.dev, b.dev, out, accumulate, bias_dev);
  expect_gemm_close(out, want, abs_ab, K, unit_roundoff(out_dt), 0, what, addend);
}

const std::vector<GemmCase>& gemm_cases() {
  static const std::vector<GemmCase> cases = {
      {"NN odd", {67, 129}, {129, 33}},
      {"TN", {67, 129}, {129, 33}, true},
      {"NT", {67, 129}, {129, 33}, false, true},
      {"TT", {67, 129}, {129, 33}, true, true},
      {"narrowed (misaligned, odd ld)", {35, 41}, {41, 19}, false, false, true, true},
      {"narrowed transposed", {35, 41}, {41, 19}, true, false, true, false},
      {"batched", {3, 17, 24}, {3, 24, 9}},
      {"batched transposed", {3, 17, 24}, {3, 24, 9}, true, true},
      {"shared rhs (stride 0)", {4, 17, 24}, {24, 9}},
      {"broadcast batch (materialised)", {2, 3, 5, 8}, {3, 8, 6}},
      {"broadcast lhs", {1, 5, 8}, {4, 8, 6}},
      {"row times matrix", {1, 300}, {300, 1}},
  };
  return cases;
}

}  // namespace

// What a column-major strided-batched BLAS GEMM computes from a gemm::Problem (as cuBLAS
// documents it): D[b] (m×n, ld m) = op(A[b])·op(B[b]), with stored element (r, c) at r + c·ld.
std::vector<double> reference_blas(const cuda::gemm::Problem& p) {
  auto at = [](const cuda::gemm::Operand& g, int64_t b, int64_t r, int64_t c) {  // op(g)(r, c)
    const double* x = g.t.data<double>() + b * g.batch_stride;
    return g.transpose ? x[c + r * g.ld] : x[r + c * g.ld];
  };
  std::vector<double> d(size_t(p.batch * p.m * p.n));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t j = 0; j < p.n; ++j)
      for (int64_t i = 0; i < p.m; ++i) {
        double acc = 0;
        for (int64_t l = 0; l < p.k; ++l) acc += at(p.A, b, i, l) * at(p.B, b, l, j);
        d[size_t(b * p.m * p.n + j * p.m + i)] = acc;
      }
  return d;
}

// The description gemm.cpp hands to cuBLASLt / cuBLAS, run through a reference BLAS on the
// CPU: every transpose, narrowed, batched and broadcast case must give matmul's result, with
// views read in place (no copy) wherever a leading dimension exists.
TEST(CudaGemmHost, BlasDescriptionReproducesMatmul) {
  const std::vector<GemmCase> cases = {
      {"NN", {5, 7}, {7, 3}},
      {"TN", {5, 7}, {7, 3}, true},
      {"NT", {5, 7}, {7, 3}, false, true},
      {"TT", {5, 7}, {7, 3}, true, true},
      {"narrowed", {4, 6}, {6, 5}, false, false, true, true},
      {"narrowed transposed", {4, 6}, {6, 5}, true, true, true, true},
      {"batched", {3, 4, 6}, {3, 6, 2}, true, false},
      {"shared rhs", {2, 3, 4, 6}, {6, 2}, false, true},
      {"broadcast batch", {2, 3, 4, 6}, {3, 6, 2}},
      {"broadcast lhs", {1, 4, 6}, {3, 6, 2}},
      {"vector-like", {1, 9}, {9, 1}},
  };
  for (const GemmCase& c : cases) {
    auto make = [](Shape shape, bool transposed, bool narrowed, uint64_t seed) {
      Shape stored = shape;
      if (transposed) std::swap(stored[stored.size() - 1], stored[stored.size() - 2]);
      if (narrowed) stored.back() += 1;
      Generator gen(seed);
      Tensor t = randn(stored, DType::f64, gen);
      if (narrowed) t = t.narrow(-1, 1, t.size(-1) - 1);
      return transposed ? t.transpose(-2, -1) : t;
    };
    Tensor a = make(c.a, c.ta, c.narrow_a, 1), b = make(c.b, c.tb, c.narrow_b, 2);
    Tensor want = matmul(a, b);
    cuda::gemm::Problem p = cuda::gemm::describe(a, b, want.shape());
    EXPECT_EQ(p.m, want.size(-1)) << c.name;
    EXPECT_EQ(p.n, want.size(-2)) << c.name;
    EXPECT_EQ(p.k, c.a.back()) << c.name;
    for (const cuda::gemm::Operand* g : {&p.A, &p.B}) EXPECT_GE(g->ld, std::max<int64_t>(1, g->rows)) << c.name;
    if (c.a.size() == 2 && c.b.size() == 2) {  // 2-d views are always read in place
      EXPECT_EQ(p.A.t.storage(), b.storage()) << c.name << ": b was copied";
      EXPECT_EQ(p.B.t.storage(), a.storage()) << c.name << ": a was copied";
      EXPECT_EQ(p.A.transpose, c.tb) << c.name;
      EXPECT_EQ(p.B.transpose, c.ta) << c.name;
    }
    std::vector<double> got = reference_blas(p), w = want.contiguous().to_vector<double>();
    ASSERT_EQ(got.size(), w.size()) << c.name;
    for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(got[i], w[i], 1e-12) << c.name << " element " << i;
  }
}

// The GELU epilogue's aux matrix is D's twin: a column-major epilogue over the description
// (bias along D's rows, aux at i + j·aux_ld + b·aux_batch_stride) must give linear's row-major
// pre-activation; aux rules cuBLASLt states (ld and batch stride multiples of 8, an aligned
// pointer) send the GELU to its own kernel instead.
TEST(CudaGemmHost, GeluEpilogueChoiceAndAuxLayout) {
  using cuda::gemm::Epilogue;
  for (auto [batch, rows, in, out] : {std::array<int64_t, 4>{1, 7, 5, 16}, {3, 5, 4, 8}}) {
    Generator gen(4);
    Tensor x = randn({batch, rows, in}, DType::f64, gen), w = randn({out, in}, DType::f64, gen);
    Tensor bias = randn({out}, DType::f64, gen);
    Tensor wt = w.transpose(0, 1).unsqueeze(0).expand({batch, in, out});
    Tensor want = linear(x, w, bias).contiguous();
    cuda::gemm::Problem p = cuda::gemm::describe(x, wt, want.shape());
    auto e = cuda::gemm::choose_epilogue(p, true, true, 256);
    ASSERT_TRUE(e.fused_gelu);
    EXPECT_EQ(e.epilogue, Epilogue::gelu_aux_bias);
    std::vector<double> d = reference_blas(p), aux(size_t(batch * rows * out), 0.0), b = bias.to_vector<double>();
    for (int64_t k = 0; k < p.batch; ++k)
      for (int64_t j = 0; j < p.n; ++j)
        for (int64_t i = 0; i < p.m; ++i)
          aux[size_t(i + j * e.aux_ld + k * (batch > 1 ? e.aux_batch_stride : 0))] =
              d[size_t(k * p.m * p.n + j * p.m + i)] + b[size_t(i)];
    std::vector<double> w_pre = want.to_vector<double>();
    for (size_t i = 0; i < w_pre.size(); ++i) ASSERT_NEAR(aux[i], w_pre[i], 1e-12) << "batch " << batch << " at " << i;
  }
  cuda::gemm::Problem p;
  p.m = 3072, p.n = 8192, p.batch = 1;
  EXPECT_EQ(cuda::gemm::choose_epilogue(p, false, true, 256).epilogue, Epilogue::gelu_aux);
  EXPECT_EQ(cuda::gemm::choose_epilogue(p, true, false, 256).epilogue, Epilogue::bias);
  EXPECT_FALSE(cuda::gemm::choose_epilogue(p, true, false, 256).fused_gelu);
  auto misaligned = cuda::gemm::choose_epilogue(p, true, true, 8);  // aux pointer only 8-byte aligned
  EXPECT_FALSE(misaligned.fused_gelu);
  EXPECT_EQ(misaligned.epilogue, Epilogue::bias);  // the GEMM keeps its bias; the GELU runs apart
  p.m = 33;  // aux ld 33: not a multiple of 8
  EXPECT_FALSE(cuda::gemm::choose_epilogue(p, true, true, 256).fused_gelu);
  p.m = 8, p.n = 3, p.batch = 2;  // batched: entries m·n = 24 elements apart
  auto batched = cuda::gemm::choose_epilogue(p, false, true, 256);
  EXPECT_TRUE(batched.fused_gelu);
  EXPECT_EQ(batched.aux_ld, 8);
  EXPECT_EQ(batched.aux_batch_stride, 24);
}

TEST(CudaGemmHost, AlignmentIsTheLargestPowerOfTwoUpTo256) {
  using cuda::gemm::alignment;
  EXPECT_EQ(alignment(reinterpret_cast<void*>(uintptr_t(4096)), {1024, 0}), 256);
  EXPECT_EQ(alignment(reinterpret_cast<void*>(uintptr_t(4096 + 2)), {1024}), 2);
  EXPECT_EQ(alignment(reinterpret_cast<void*>(uintptr_t(4096)), {2 * 41}), 2);  // odd bf16 leading dim
  EXPECT_EQ(alignment(reinterpret_cast<void*>(uintptr_t(4096 + 16)), {64, 4096}), 16);
}

TEST(CudaGemmNoDevice, MatmulIntoThrowsATypedErrorNamingTheOp) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present";
  Tensor a = fake_cuda_tensor({2, 3}), b = fake_cuda_tensor({3, 4}), out = fake_cuda_tensor({2, 4});
  expect_no_kernel_error("my_gemm", [&] { cuda::matmul_into("my_gemm", a, b, out, false, fake_cuda_tensor({4})); });
}

// Every case runs on cuBLASLt and again on the classic-cuBLAS fallback (taken when cuBLASLt's
// heuristic declines a problem).
struct ClassicCublas {
  explicit ClassicCublas(bool on) { cuda::use_classic_cublas_for_testing(on); }
  ~ClassicCublas() { cuda::use_classic_cublas_for_testing(false); }
};

TEST(CudaGemm, EveryDtypeLayoutAndBatchingMatchesF64) {
  REQUIRE_GPU();
  for (bool classic : {false, true}) {
    ClassicCublas path(classic);
    SCOPED_TRACE(classic ? "classic cuBLAS" : "cuBLASLt");
    for (const GemmCase& c : gemm_cases())
      for (DType in : {DType::f32, DType::bf16, DType::f16})
        for (DType out : {in, DType::f32}) {
          run_gemm(c, in, out, false, false);
          if (in == out || c.name == "NN odd") run_gemm(c, in, out, true, false);
        }
  }
}

TEST(CudaGemm, BiasEpilogueWithAndWithoutAccumulate) {
  REQUIRE_GPU();
  for (bool classic : {false, true}) {
    ClassicCublas path(classic);
    SCOPED_TRACE(classic ? "classic cuBLAS" : "cuBLASLt");
    for (DType in : {DType::f32, DType::bf16, DType::f16})
      for (const GemmCase& c : {gemm_cases()[0], gemm_cases()[3], gemm_cases()[4], gemm_cases()[6],
                                gemm_cases()[11]}) {
        run_gemm(c, in, in, false, true);
        run_gemm(c, in, in, true, true);
        run_gemm(c, in, DType::f32, false, true);
      }
  }
  // K == 0: no GEMM to carry the epilogue; the result is the bias (plus out when accumulating).
  Tensor a = empty({3, 0}, DType::bf16, Device::cuda()), b = empty({0, 4}, DType::bf16, Device::cuda());
  Tensor out = full({3, 4}, 1.0, DType::bf16, Device::cuda()), bias = full({4}, 2.0, DType::f32, Device::cuda());
  cuda::matmul_into("gemm", a, b, out, true, bias);
  EXPECT_EQ(out.to(Device::cpu()).to_vector<float>(), std::vector<float>(12, 3.f));
  cuda::matmul_into("gemm", a, b, out, false, bias);
  EXPECT_EQ(out.to(Device::cpu()).to_vector<float>(), std::vector<float>(12, 2.f));
}

TEST(CudaGemm, Tf32OnlyWhenAllowed) {
  REQUIRE_GPU();
  ASSERT_FALSE(cuda::allow_tf32());
  const int64_t n = 256;
  Operand a = operand({n, n}, DType::f32, false, false, 5), b = operand({n, n}, DType::f32, true, false, 6);
  Tensor want = matmul(a.ref, b.ref), abs_ab = matmul(abs(a.ref), abs(b.ref));
  Tensor out = empty({n, n}, DType::f32, Device::cuda());
  cuda::matmul_into("gemm", a.dev, b.dev, out);
  expect_gemm_close(out, want, abs_ab, n, 0x1p-24, 0, "f32 without TF32");  // TF32 would break this bound
  cuda::set_allow_tf32(true);
  cuda::matmul_into("gemm", a.dev, b.dev, out);
  cuda::set_allow_tf32(false);
  expect_gemm_close(out, want, abs_ab, n, 0x1p-24, 0x1p-9, "f32 with TF32");
  // And TF32 was really used: some element is off by more than f32 accumulation allows.
  auto g = out.to(Device::cpu()).to_vector<double>(), w = want.to_vector<double>(), s = abs_ab.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - w[i]) / s[i]);
  EXPECT_GT(worst, double(n) * 0x1p-23) << "set_allow_tf32(true) did not change the f32 GEMM";
}

TEST(CudaGemm, OperandDtypesAreChecked) {
  REQUIRE_GPU();
  Tensor bf = zeros({2, 2}, DType::bf16).to(Device::cuda()), hf = zeros({2, 2}, DType::f16).to(Device::cuda());
  Tensor out = empty({2, 2}, DType::bf16, Device::cuda());
  EXPECT_THROW(cuda::matmul_into("gemm", bf, hf, out), DTypeError);
  EXPECT_THROW(cuda::matmul_into("gemm", bf, bf, empty({2, 2}, DType::f16, Device::cuda())), DTypeError);
  EXPECT_THROW(cuda::matmul_into("gemm", bf, bf, empty({2, 4}, DType::bf16, Device::cuda())), ShapeError);
}

// matmul / linear through autograd: forward and every gradient against the CPU in f64 (the
// shared parity helper, f32/bf16/f16, contiguous and transposed leaves).
TEST(CudaGemm, MatmulAndLinearForwardAndGradients) {
  REQUIRE_GPU();
  check_all({
      {"matmul odd", [](auto& v) { return matmul(v[0], v[1]); }, {{37, 65}, {65, 19}}},
      {"matmul vector", [](auto& v) { return matmul(v[0], v[1]); }, {{5, 33}, {33}}},
      {"matmul broadcast batch", [](auto& v) { return matmul(v[0], v[1]); }, {{2, 1, 7, 9}, {3, 9, 5}}},
      {"linear bias odd", [](auto& v) { return linear(v[0], v[1], v[2]); }, {{3, 11, 40}, {23, 40}, {23}}},
      {"linear no bias", [](auto& v) { return linear(v[0], v[1]); }, {{13, 40}, {23, 40}}},
      {"linear in_out bias", [](auto& v) { return linear(v[0], v[1], v[2], WeightLayout::in_out); },
       {{13, 40}, {40, 23}, {23}}},
  });
}

TEST(CudaGemm, FrozenWeightRunsNoWeightGradientGemm) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16}) {
    Generator gen(1);
    Tensor x = randn({8, 16}, DType::f32, gen).to(dt).to(Device::cuda()).requires_grad_();
    Tensor w = randn({12, 16}, DType::f32, gen).to(dt).to(Device::cuda());
    Tensor b = zeros({12}, dt).to(Device::cuda()).requires_grad_();
    Tensor y = linear(x, w, b);
    EXPECT_EQ(y.dtype(), dt);
    reset_counters();
    sum(y).backward();
    EXPECT_EQ(counters().backward_count("linear.dx"), 1) << dtype_name(dt);
    EXPECT_EQ(counters().backward_count("linear.dw"), 0) << dtype_name(dt);
    EXPECT_FALSE(w.grad().defined());
  }
}

// Autocast on the GPU: f32 master parameters, bf16 GEMMs, f32 gradients; the same as the CPU
// computing through the same bf16 casts (AutocastGuard with cpu = true) up to summation order.
TEST(CudaGemm, AutocastRunsBf16GemmsAndGivesF32Gradients) {
  REQUIRE_GPU();
  Generator gen(9);
  Tensor x = randn({4, 7, 48}, DType::f32, gen), w = randn({40, 48}, DType::f32, gen), b = randn({40}, DType::f32, gen);
  Tensor m = randn({40, 24}, DType::f32, gen), g = randn({4, 7, 24}, DType::f32, gen);
  auto run = [&](Device d, bool cpu) {
    std::vector<Tensor> leaves;
    for (const Tensor& t : {x, w, b, m}) leaves.push_back(t.to(d).detach().requires_grad_());
    Tensor out;
    {
      AutocastGuard guard(DType::bf16, cpu);
      out = matmul(linear(leaves[0], leaves[1], leaves[2]), leaves[3]);
    }
    EXPECT_EQ(out.dtype(), DType::bf16);
    sum(mul(to_dtype(out, DType::f32), g.to(d))).backward();
    leaves.insert(leaves.begin(), out);
    return leaves;
  };
  auto gpu = run(Device::cuda(), false), cpu = run(Device::cpu(), true);
  expect_close(gpu[0], to_dtype(cpu[0], DType::f64), DType::bf16, "autocast forward");
  for (size_t i = 1; i < gpu.size(); ++i) {
    ASSERT_TRUE(gpu[i].grad().defined()) << i;
    EXPECT_EQ(gpu[i].grad().dtype(), DType::f32) << i;
    expect_close(gpu[i].grad(), to_dtype(cpu[i].grad(), DType::f64), DType::bf16, "autocast grad " + std::to_string(i));
  }
}

// Operands on two devices are refused (the CPU GEMM would read a device pointer), and a bf16
// input's gradient from an f32 weight is the f32 product rounded once to bf16, not a product
// of bf16-rounded g and W (the error bound below is one bf16 rounding plus f32 accumulation).
TEST(CudaGemm, MixedDevicesThrowAndMixedDtypesRoundOnce) {
  REQUIRE_GPU();
  Tensor cpu_x = zeros({2, 3}), gpu_w = zeros({4, 3}).to(Device::cuda());
  EXPECT_THROW(linear(cpu_x, gpu_w), NoKernelError);
  EXPECT_THROW(linear(cpu_x.to(Device::cuda()), gpu_w, zeros({4})), NoKernelError);
  EXPECT_THROW(matmul(gpu_w, zeros({3, 2})), NoKernelError);
  const int64_t N = 9, in = 70, out = 33;
  Generator gen(21);
  Tensor x_ref = randn({N, in}, DType::f64, gen).to(DType::bf16).to(DType::f64).requires_grad_();
  Tensor w_ref = randn({out, in}, DType::f64, gen).to(DType::f32).to(DType::f64).requires_grad_();
  Tensor g_ref = randn({N, out}, DType::f64, gen).to(DType::f32).to(DType::f64);
  Tensor x = x_ref.detach().to(DType::bf16).to(Device::cuda()).requires_grad_();
  Tensor w = w_ref.detach().to(DType::f32).to(Device::cuda()).requires_grad_();
  Tensor y = linear(x, w);
  EXPECT_EQ(y.dtype(), DType::f32);
  sum(mul(y, g_ref.to(DType::f32).to(Device::cuda()))).backward();
  sum(mul(linear(x_ref, w_ref), g_ref)).backward();
  ASSERT_EQ(x.grad().dtype(), DType::bf16);
  expect_gemm_close(x.grad(), x_ref.grad(), matmul(abs(g_ref), abs(w_ref)), out, unit_roundoff(DType::bf16), 0,
                    "bf16 dx from f32 g and W");
  expect_gemm_close(w.grad(), w_ref.grad(), matmul(abs(g_ref).transpose(0, 1), abs(x_ref.detach())), N,
                    unit_roundoff(DType::f32), 0, "f32 dW from f32 g and bf16 x");
}
