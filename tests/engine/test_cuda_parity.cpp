// CUDA backend parity: every op with a CUDA kernel, in f32 / bf16 / f16, on contiguous and
// transposed leaves, forward and gradient (through autograd) against the CPU backend in f64.
// Inputs are rounded to the tested dtype first, so only the kernels' arithmetic is compared.
// The parity tests skip without a GPU; the NoDevice tests run everywhere (no GPU, no nvcc).
#include <gtest/gtest.h>

#include <cstring>

#include "engine/backend/cuda/cuda_ops.h"
#include "engine/cuda_parity.h"

using namespace engine;
using namespace cuda_parity;

namespace {

Tensor fake_cuda_bool(const Shape& shape) {
  Tensor t = fake_cuda_tensor(shape);
  t.impl()->dtype = DType::boolean;  // the fake's buffer holds 4 bytes per element: ample
  return t;
}

std::vector<DType> float_dtypes() { return {DType::f32, DType::bf16, DType::f16}; }

// A host bool mask true at every third element (row-major).
Tensor every_third(const Shape& shape) {
  std::vector<bool> m(size_t(shape_numel(shape)));
  for (size_t i = 0; i < m.size(); ++i) m[i] = i % 3 == 0;
  return from_vector(m, shape);
}

// Distance in units in the last place between two half values (bit patterns).
int ulps(uint16_t a, uint16_t b) {
  auto ordered = [](uint16_t u) { return u & 0x8000 ? -int(u & 0x7fff) : int(u); };
  return std::abs(ordered(a) - ordered(b));
}

template <typename H>
std::vector<uint16_t> half_bits(const Tensor& t) {
  std::vector<uint16_t> out;
  for (H h : t.detach().to(Device::cpu()).contiguous().template to_vector<H>()) out.push_back(h.bits);
  return out;
}

}  // namespace

TEST(CudaNoDevice, OpsOnAGpuTensorThrowATypedErrorNamingOpAndDevice) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present: ops run instead of throwing";
  Tensor x = fake_cuda_tensor({2, 3}), w = fake_cuda_tensor({3}), m = fake_cuda_bool({2, 3});
  const std::vector<std::pair<std::string, std::function<void()>>> ops = {
      {"add", [&] { add(x, x); }},          {"mul", [&] { mul(x, 2.0); }},
      {"exp", [&] { exp(x); }},             {"gelu", [&] { gelu(x); }},
      {"abs", [&] { abs(x); }},             {"pow", [&] { pow(x, x); }},
      {"maximum", [&] { maximum(x, 0.0); }}, {"maximum", [&] { clamp(x, -1.0, 1.0); }},
      {"eq", [&] { eq(x, x); }},            {"lt", [&] { lt(x, 0.5); }},
      {"where", [&] { where(m, x, x); }},   {"where", [&] { masked_fill(x, m, 0.0); }},
      {"sum", [&] { sum(x, {-1}); }},       {"mean", [&] { mean(x); }},
      {"max", [&] { max(x); }},             {"max", [&] { max(x, 1); }},
      {"argmax", [&] { argmax(x, 0); }},    {"softmax", [&] { softmax(x, -1); }},
      {"layer_norm", [&] { layer_norm(x, w, w); }}, {"matmul", [&] { matmul(x, x.t()); }},
      {"linear", [&] { linear(x, x); }},
  };
  for (const auto& [name, run] : ops) expect_no_kernel_error(name, run);
  EXPECT_THROW(zeros({2}).to(Device::cuda()), NoKernelError);
}

TEST(CudaParity, Binary) {
  REQUIRE_GPU();
  check_all({
      {"add", [](auto& v) { return add(v[0], v[1]); }, {{4, 6}, {4, 6}}},
      {"add broadcast", [](auto& v) { return add(v[0], v[1]); }, {{3, 4, 6}, {6}}},
      {"sub broadcast", [](auto& v) { return sub(v[0], v[1]); }, {{4, 1}, {4, 6}}},
      {"mul", [](auto& v) { return mul(v[0], v[1]); }, {{5, 7}, {5, 7}}},
      {"mul scalar", [](auto& v) { return mul(v[0], 2.5); }, {{5, 7}}},
      {"div broadcast", [](auto& v) { return div(v[0], v[1]); }, {{3, 5, 4}, {5, 4}}, true},
      {"rsub scalar", [](auto& v) { return rsub(1.5, v[0]); }, {{3, 300}}},
  });
}

TEST(CudaParity, PowMaximumMinimumClampWhere) {
  REQUIRE_GPU();
  check_all({
      {"pow", [](auto& v) { return pow(v[0], v[1]); }, {{5, 7}, {5, 7}}, true},
      {"pow broadcast exponent", [](auto& v) { return pow(v[0], v[1]); }, {{3, 5, 4}, {4}}, true},
      {"pow scalar", [](auto& v) { return pow(v[0], 2.5); }, {{6, 33}}, true},
      {"maximum", [](auto& v) { return maximum(v[0], v[1]); }, {{4, 6}, {4, 6}}},
      {"minimum broadcast", [](auto& v) { return minimum(v[0], v[1]); }, {{3, 4, 6}, {4, 1}}},
      {"maximum scalar", [](auto& v) { return maximum(v[0], 0.25); }, {{7, 33}}},
      {"clamp", [](auto& v) { return clamp(v[0], -0.5, 0.7); }, {{7, 33}}},
      {"where broadcast", [](auto& v) { return where(gt(v[0], v[1]), v[0], v[1]); }, {{3, 5, 4}, {5, 4}}},
      {"where scalar branch", [](auto& v) { return where(lt(v[0], 0.3), v[0], zeros({}, v[0].dtype())); }, {{6, 33}}},
      {"masked_fill", [](auto& v) { return masked_fill(v[0], lt(v[0], 0.3), -1.5); }, {{6, 33}}},
  });
}

// Comparisons give bool tensors: compared exactly with the CPU on the same rounded values, with
// ties planted (every third element of b equals a's).
TEST(CudaParity, Comparisons) {
  REQUIRE_GPU();
  using Cmp = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<const char*, Cmp>> ops = {{"eq", eq}, {"ne", ne}, {"lt", lt}, {"le", le},
                                                        {"gt", gt}, {"ge", ge}, {"logical_and", logical_and}};
  for (DType dt : float_dtypes())
    for (bool transposed : {false, true}) {
      auto [ar, ad] = make_leaf({9, 37}, dt, transposed, false, 1);
      auto [br, bd] = make_leaf({9, 37}, dt, transposed, false, 2);
      Tensor tie = every_third({9, 37});
      Tensor b_ref = where(tie, ar.detach(), br.detach()), b_dev = where(tie.to(Device::cuda()), ad.detach(), bd.detach());
      for (const auto& [name, fn] : ops) {
        Tensor got = fn(ad.detach(), b_dev), want = fn(ar.detach(), b_ref);
        ASSERT_EQ(got.dtype(), DType::boolean) << name;
        EXPECT_EQ(got.to(Device::cpu()).to_vector<bool>(), want.to_vector<bool>()) << name << " " << dtype_name(dt);
      }
      EXPECT_EQ(logical_not(gt(ad.detach(), 0.0)).to(Device::cpu()).to_vector<bool>(),
                logical_not(gt(ar.detach(), 0.0)).to_vector<bool>());
    }
}

TEST(CudaParity, Unary) {
  REQUIRE_GPU();
  std::vector<Case> cases;
  auto add_case = [&](const char* name, Tensor (*f)(const Tensor&), bool positive = false) {
    cases.push_back({name, [f](auto& v) { return f(v[0]); }, {{6, 33}}, positive});
  };
  add_case("exp", exp);
  add_case("log", log, true);
  add_case("tanh", tanh);
  add_case("gelu", gelu);
  add_case("gelu_tanh", gelu_tanh);
  add_case("relu", relu);
  add_case("silu", silu);
  add_case("sigmoid", sigmoid);
  add_case("neg", neg);
  add_case("sqrt", sqrt, true);
  add_case("rsqrt", rsqrt, true);
  add_case("abs", abs);
  add_case("square", square);
  check_all(cases);
}

TEST(CudaParity, Reductions) {
  REQUIRE_GPU();
  check_all({
      {"sum last dim", [](auto& v) { return sum(v[0], {-1}); }, {{5, 300}}},
      {"sum all", [](auto& v) { return sum(v[0]); }, {{37, 41}}},
      {"sum columns (thread per output)", [](auto& v) { return sum(v[0], {0}); }, {{45, 300}}},
      {"sum columns in pieces", [](auto& v) { return sum(v[0], {0}); }, {{1000, 300}}},
      {"sum all in pieces", [](auto& v) { return sum(v[0]); }, {{300, 1000}}},
      {"sum outer and inner dims", [](auto& v) { return sum(v[0], {0, 2}); }, {{3, 7, 5, 11}}},
      {"sum middle dim keepdim", [](auto& v) { return sum(v[0], {1}, true); }, {{4, 9, 6}}},
      {"mean dim 0 keepdim", [](auto& v) { return mean(v[0], {0}, true); }, {{9, 7}}},
      {"mean two dims", [](auto& v) { return mean(v[0], {1, 2}); }, {{3, 5, 70}}},
      {"var", [](auto& v) { return var(v[0], {-1}); }, {{6, 300}}},
      {"var all", [](auto& v) { return var(v[0]); }, {{13, 17}}},
      {"sum_to via broadcast", [](auto& v) { return sum(add(v[0], v[1]), {0, 1}); }, {{2, 3, 5}, {3, 5}}},
      {"max dim 1", [](auto& v) { return max(v[0], 1).values; }, {{6, 300}}},
      {"max dim 0 keepdim", [](auto& v) { return max(v[0], 0, true).values; }, {{40, 300}}},
      {"max middle dim", [](auto& v) { return max(v[0], 1).values; }, {{3, 33, 5}}},
      {"max all", [](auto& v) { return max(v[0]); }, {{37, 41}}},
      {"max all in pieces", [](auto& v) { return max(v[0]); }, {{300, 1000}}},
      {"max columns in pieces", [](auto& v) { return max(v[0], 0).values; }, {{1000, 300}}},
  });
}

// argmax and max's indices against the CPU on the same rounded values; integer and bool sums
// exact in i64.
TEST(CudaParity, ArgmaxAndIntegerSums) {
  REQUIRE_GPU();
  for (DType dt : float_dtypes())
    for (bool transposed : {false, true}) {
      auto [xr, xd] = make_leaf({33, 300}, dt, transposed, false, 3);
      Tensor x = xr.detach(), xg = xd.detach();
      for (int64_t dim : {0, 1}) {
        EXPECT_EQ(argmax(xg, dim).to(Device::cpu()).to_vector<int64_t>(), argmax(x, dim).to_vector<int64_t>())
            << dtype_name(dt) << " dim " << dim;
        EXPECT_EQ(max(xg, dim).indices.to(Device::cpu()).to_vector<int64_t>(), max(x, dim).indices.to_vector<int64_t>());
      }
      // Reductions long enough to run in pieces (ties across pieces: the first index wins).
      auto [yr, yd] = make_leaf({2000, 300}, dt, transposed, false, 4);
      for (int64_t dim : {0, 1})
        EXPECT_EQ(argmax(yd.detach(), dim).to(Device::cpu()).to_vector<int64_t>(),
                  argmax(yr.detach(), dim).to_vector<int64_t>())
            << dtype_name(dt) << " long dim " << dim;
      EXPECT_EQ(argmax(yd.detach().reshape({-1}), 0).item<int64_t>(), argmax(yr.detach().reshape({-1}), 0).item<int64_t>());
      Tensor mask = gt(x, 0.0), mask_g = gt(xg, 0.0);
      EXPECT_EQ(sum(mask_g, {1}).to(Device::cpu()).to_vector<int64_t>(), sum(mask, {1}).to_vector<int64_t>());
      EXPECT_EQ(sum(mask_g.to(DType::i32)).item<int64_t>(), sum(mask.to(DType::i32)).item<int64_t>());
      EXPECT_EQ(max(mask_g.to(DType::i64), 0).values.to(Device::cpu()).to_vector<int64_t>(),
                max(mask.to(DType::i64), 0).values.to_vector<int64_t>());
    }
  // Ties and NaN: the first maximum, the first NaN, as the CPU.
  Tensor t = from_vector({1.f, 3.f, 3.f, -1.f, NAN, 2.f, NAN, 0.f}, {2, 4});
  for (DType dt : float_dtypes()) {
    Tensor g = t.to(dt).to(Device::cuda());
    EXPECT_EQ(argmax(g, 1).to(Device::cpu()).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(argmax(g, 0).to(Device::cpu()).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
  }
}

TEST(CudaParity, ShapeOpsKeepGradientsOnTheDevice) {
  REQUIRE_GPU();
  check_all({
      {"narrow", [](auto& v) { return narrow(v[0], 1, 2, 3); }, {{4, 7}}},
      {"select", [](auto& v) { return select(v[0], 0, 2); }, {{4, 7}}},
      {"expand", [](auto& v) { return mul(expand(v[0], {3, 4, 5}), v[1]); }, {{4, 1}, {3, 4, 5}}},
      {"concat", [](auto& v) { return concat({v[0], v[1]}, 0); }, {{2, 5}, {3, 5}}},
      {"stack", [](auto& v) { return stack({v[0], v[1]}, 1); }, {{3, 5}, {3, 5}}},
      {"split", [](auto& v) { return mul(split(v[0], {2, 3}, 1)[1], 2.0); }, {{4, 5}}},
      {"permute reshape", [](auto& v) { return reshape(permute(v[0], {2, 0, 1}), {6, -1}); }, {{2, 3, 6}}},
  });
}

// bf16/f16 results are rounded once from f32, as the CPU's (which upcasts, computes in f32 and
// converts once): compared bit for bit with the CPU run on the same half inputs. A kernel that
// rounded intermediates to the half type would be off by an ulp or more on many elements; the
// CPU's SIMD polynomials and summation order leave a rare 1-ulp difference.
TEST(CudaParity, HalfResultsAreRoundedOnceAsOnTheCpu) {
  REQUIRE_GPU();
  using Fn1 = std::function<Tensor(const Tensor&, const Tensor&)>;
  // Gradients are compared where both backends save the same values: softmax's vjp reads the
  // saved output, kept in f32 by the CPU but in the tensor's dtype on a GPU (half the memory),
  // so only its forward is compared bit for bit (its gradient is within the parity tolerance).
  const std::vector<std::tuple<const char*, Fn1, bool>> ops = {
      {"gelu", [](auto& x, auto&) { return gelu(x); }, true},
      {"silu", [](auto& x, auto&) { return silu(x); }, true},
      {"mul add broadcast", [](auto& x, auto& w) { return add(mul(x, w), w); }, true},
      {"pow", [](auto& x, auto& w) { return pow(abs(x), w); }, true},
      {"softmax", [](auto& x, auto&) { return softmax(x, -1); }, false},
      {"layer_norm", [](auto& x, auto& w) { return layer_norm(x, w, w); }, true},
      {"mean", [](auto& x, auto&) { return mean(x, {-1}); }, false},
  };
  for (DType dt : {DType::bf16, DType::f16}) {
    Generator gen(21);
    Tensor x = randn({64, 129}, DType::f32, gen).to(dt), w = uniform({129}, 0.5, 1.5, DType::f32, gen).to(dt);
    Tensor gy = randn({64, 129}, DType::f32, gen).to(dt);
    for (const auto& [name, fn, with_grad] : ops) {
      Tensor xc = x.detach().requires_grad_(), xg = x.to(Device::cuda()).detach().requires_grad_();
      Tensor yc = fn(xc, w), yg = fn(xg, w.to(Device::cuda()));
      ASSERT_EQ(yg.dtype(), dt) << name;
      std::vector<std::pair<Tensor, Tensor>> pairs = {{yg, yc}};
      if (with_grad) {  // and the gradient, through the same backward kernels
        sum(mul(yc, gy)).backward();
        sum(mul(yg, gy.to(Device::cuda()))).backward();
        pairs.push_back({xg.grad(), xc.grad()});
      }
      for (auto& [g, c] : pairs) {
        auto gb = dt == DType::bf16 ? half_bits<bf16>(g) : half_bits<f16>(g);
        auto cb = dt == DType::bf16 ? half_bits<bf16>(c) : half_bits<f16>(c);
        ASSERT_EQ(gb.size(), cb.size());
        // Near-zero results of a cancellation (layer_norm's x̂·γ + β) may be 2 ulps apart.
        size_t differ = 0, far = 0;
        for (size_t i = 0; i < gb.size(); ++i) {
          differ += gb[i] != cb[i];
          far += ulps(gb[i], cb[i]) > 1;
        }
        EXPECT_LE(far, gb.size() / 1000) << name << " " << dtype_name(dt) << ": " << far << " more than 1 ulp apart";
        EXPECT_LE(differ, gb.size() / 50) << name << " " << dtype_name(dt) << ": " << differ << " of " << gb.size();
      }
    }
  }
}

TEST(CudaParity, SoftmaxAndNorms) {
  REQUIRE_GPU();
  check_all({
      {"softmax", [](auto& v) { return softmax(v[0], -1); }, {{3, 4, 50}}},
      {"log_softmax", [](auto& v) { return log_softmax(v[0], -1); }, {{6, 300}}},
      {"softmax dim 0", [](auto& v) { return softmax(v[0], 0); }, {{5, 6}}},
      {"layer_norm", [](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5); }, {{3, 4, 40}, {40}, {40}}},
      {"layer_norm long rows", [](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5); }, {{5, 1000}, {1000}, {1000}}},
      {"layer_norm many rows (dgamma in pieces)", [](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5); },
       {{2000, 40}, {40}, {40}}},
      {"rms_norm", [](auto& v) { return rms_norm(v[0], v[1], 1e-6); }, {{7, 64}, {64}}},
  });
}

TEST(CudaParity, MatmulAndLinear) {
  REQUIRE_GPU();
  check_all({
      {"matmul 2d", [](auto& v) { return matmul(v[0], v[1]); }, {{7, 5}, {5, 9}}},
      {"matmul batched", [](auto& v) { return matmul(v[0], v[1]); }, {{2, 3, 4, 5}, {3, 5, 6}}},
      {"matmul shared rhs", [](auto& v) { return matmul(v[0], v[1]); }, {{3, 4, 5}, {5, 6}}},
      {"linear", [](auto& v) { return linear(v[0], v[1], v[2]); }, {{2, 3, 8}, {5, 8}, {5}}},
      {"linear in_out", [](auto& v) { return linear(v[0], v[1], v[2], WeightLayout::in_out); },
       {{6, 8}, {8, 5}, {5}}},
  });
}

TEST(CudaParity, ReductionsAreDeterministic) {
  REQUIRE_GPU();
  Generator gen(3);
  Tensor x = randn({64, 512}, DType::f32, gen).to(Device::cuda()).requires_grad_();
  Tensor w = ones({512}).to(Device::cuda()).requires_grad_();
  Tensor tall = randn({4096, 300}, DType::bf16, gen).to(Device::cuda());  // column sums in pieces
  std::vector<std::vector<float>> sums, cols, dw;
  for (int run = 0; run < 2; ++run) {
    w.zero_grad();
    Tensor y = layer_norm(x, w, Tensor{});
    sum(mul(y, y)).backward();
    sums.push_back(sum(x).to(Device::cpu()).to_vector<float>());
    cols.push_back(sum(tall, {0}).to(DType::f32).to(Device::cpu()).to_vector<float>());
    dw.push_back(w.grad().to(Device::cpu()).to_vector<float>());
  }
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_EQ(cols[0], cols[1]);
  EXPECT_EQ(dw[0], dw[1]);
}

// More than 2^31 elements: offsets, fills, comparisons and reductions index in int64.
TEST(CudaParity, IndicesBeyond2Pow31) {
  REQUIRE_GPU();
  const int64_t n = (int64_t(1) << 31) + 100;
  Tensor x = zeros({n}, DType::bf16, Device::cuda());
  fill_(x.narrow(0, n - 7, 1), 3.0);
  EXPECT_EQ(argmax(x, 0).item<int64_t>(), n - 7);
  EXPECT_EQ(max(x).item<float>(), 3.f);
  EXPECT_EQ(sum(x.narrow(0, n - 50, 50)).item<float>(), 3.f);
  EXPECT_EQ(sum(gt(x, 1.0)).item<int64_t>(), 1);
}

TEST(CudaParity, UnsupportedDtypesAndOpsThrowTypedErrors) {
  REQUIRE_GPU();
  Tensor x = ones({2, 3}).to(Device::cuda());
  EXPECT_THROW(exp(x.to(DType::f64)), DTypeError);  // float kernels compute in f32 (f64 is CPU-only)
  EXPECT_THROW(softmax(x.to(DType::f64), -1), DTypeError);
  EXPECT_THROW(max(x.to(DType::f64)), DTypeError);
  EXPECT_THROW(add(x, ones({2, 3})), NoKernelError);  // mixed devices (beyond a scalar)
  EXPECT_THROW(where(gt(x, 0.0), x, ones({2, 3})), NoKernelError);
  // Integer tensors against double scalars compute in f64, as on the CPU.
  Tensor ids = arange(0, 6).to(Device::cuda());
  EXPECT_EQ(eq(ids, 4.0).to(Device::cpu()).to_vector<bool>(), (std::vector<bool>{0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(mul(ids, 0.5).dtype(), DType::f64);
  EXPECT_EQ(pow(x, x).device(), Device::cuda());
}
