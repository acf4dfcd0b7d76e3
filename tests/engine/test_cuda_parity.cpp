// CUDA backend parity: every op with a CUDA kernel, in f32 / bf16 / f16, on contiguous and
// transposed leaves, forward and gradient (through autograd) against the CPU backend in f64.
// Inputs are rounded to the tested dtype first, so only the kernels' arithmetic is compared.
// The parity tests skip without a GPU; the NoDevice tests run everywhere (no GPU, no nvcc).
#include <gtest/gtest.h>

#include "engine/backend/cuda/cuda_ops.h"
#include "engine/cuda_parity.h"

using namespace engine;
using namespace cuda_parity;

TEST(CudaNoDevice, OpsOnAGpuTensorThrowATypedErrorNamingOpAndDevice) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present: ops run instead of throwing";
  Tensor x = fake_cuda_tensor({2, 3}), w = fake_cuda_tensor({3});
  const std::vector<std::pair<std::string, std::function<void()>>> ops = {
      {"add", [&] { add(x, x); }},          {"mul", [&] { mul(x, 2.0); }},
      {"exp", [&] { exp(x); }},             {"gelu", [&] { gelu(x); }},
      {"sum", [&] { sum(x, {-1}); }},       {"softmax", [&] { softmax(x, -1); }},
      {"layer_norm", [&] { layer_norm(x, w, w); }}, {"matmul", [&] { matmul(x, x.t()); }},
      {"linear", [&] { linear(x, x); }},
  };
  for (const auto& [name, run] : ops) {
    try {
      run();
      ADD_FAILURE() << name << " did not throw";
    } catch (const NoKernelError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
    }
  }
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
  });
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
  check_all(cases);
}

TEST(CudaParity, Reductions) {
  REQUIRE_GPU();
  check_all({
      {"sum last dim", [](auto& v) { return sum(v[0], {-1}); }, {{5, 300}}},
      {"sum all", [](auto& v) { return sum(v[0]); }, {{37, 41}}},
      {"mean dim 0 keepdim", [](auto& v) { return mean(v[0], {0}, true); }, {{9, 7}}},
      {"sum_to via broadcast", [](auto& v) { return sum(add(v[0], v[1]), {0, 1}); }, {{2, 3, 5}, {3, 5}}},
  });
}

TEST(CudaParity, SoftmaxAndNorms) {
  REQUIRE_GPU();
  check_all({
      {"softmax", [](auto& v) { return softmax(v[0], -1); }, {{3, 4, 50}}},
      {"log_softmax", [](auto& v) { return log_softmax(v[0], -1); }, {{6, 300}}},
      {"softmax dim 0", [](auto& v) { return softmax(v[0], 0); }, {{5, 6}}},
      {"layer_norm", [](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5); }, {{3, 4, 40}, {40}, {40}}},
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
  std::vector<std::vector<float>> sums, dw;
  for (int run = 0; run < 2; ++run) {
    w.zero_grad();
    Tensor y = layer_norm(x, w, Tensor{});
    sum(mul(y, y)).backward();
    sums.push_back(sum(x).to(Device::cpu()).to_vector<float>());
    dw.push_back(w.grad().to(Device::cpu()).to_vector<float>());
  }
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_EQ(dw[0], dw[1]);
}

TEST(CudaParity, UnsupportedDtypesAndOpsThrowTypedErrors) {
  REQUIRE_GPU();
  Tensor x = ones({2, 3}).to(Device::cuda());
  EXPECT_THROW(exp(x.to(DType::f64)), DTypeError);  // GPU kernels compute in f32
  EXPECT_THROW(pow(x, x), NoKernelError);
  EXPECT_THROW(max(x), NoKernelError);
  EXPECT_THROW(add(x, ones({2, 3})), NoKernelError);  // mixed devices (beyond a scalar)
}
