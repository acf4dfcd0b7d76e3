// CUDA backend parity: every op with a CUDA kernel, in f32 / bf16 / f16, on contiguous and
// transposed leaves, forward and gradient (through autograd) against the CPU backend in f64.
// Inputs are rounded to the tested dtype first, so only the kernels' arithmetic is compared.
// The parity tests skip without a GPU; the NoDevice tests run everywhere (no GPU, no nvcc).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/engine.h"

using namespace engine;

namespace {

#define REQUIRE_GPU() \
  if (!cuda::available()) GTEST_SKIP() << "no CUDA device (built with CUDA: " << cuda::built() << ")"

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Elementwise closeness |a − b| ≤ tol·(1 + |b|), relative to f64 CPU values.
double tolerance(DType dt) { return dt == DType::f32 ? 1e-4 : dt == DType::f16 ? 4e-3 : 3e-2; }

void expect_close(const Tensor& got, const Tensor& want, DType dt, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = got.detach().to(Device::cpu()).to_vector<double>();
  auto w = want.detach().to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    double excess = std::abs(g[i] - w[i]) / (1 + std::abs(w[i]));
    if (!(excess <= worst)) worst = excess, at = i;
  }
  EXPECT_LE(worst, tolerance(dt)) << what << ": element " << at << " got " << g[at] << " want " << w[at];
}

// A leaf of `shape` with values drawn in f64, rounded to dt; transposed leaves are views of a
// buffer with the last two dims swapped. Returns {f64 CPU leaf, dt GPU leaf}.
std::pair<Tensor, Tensor> make_leaf(const Shape& shape, DType dt, bool transposed, bool positive, uint64_t seed) {
  Generator gen(seed);
  Shape stored = shape;
  const bool t = transposed && shape.size() >= 2;
  if (t) std::swap(stored[stored.size() - 1], stored[stored.size() - 2]);
  Tensor base = positive ? uniform(stored, 0.5, 2.0, DType::f64, gen) : randn(stored, DType::f64, gen);
  base = base.to(dt).to(DType::f64);
  Tensor dev = base.to(dt).to(Device::cuda());
  if (t) base = base.transpose(-2, -1), dev = dev.transpose(-2, -1);
  return {base.detach().requires_grad_(), dev.detach().requires_grad_()};
}

struct Case {
  std::string name;
  Fn fn;
  std::vector<Shape> shapes;
  bool positive = false;
};

// Runs fn on both backends; loss = Σ out·w with a fixed random w; compares out and every grad.
void check_parity(const Case& c, DType dt, bool transposed) {
  std::string what = c.name + " " + dtype_name(dt) + (transposed ? " transposed" : " contiguous");
  std::vector<Tensor> ref, dev;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    auto [r, d] = make_leaf(c.shapes[i], dt, transposed, c.positive, 100 + i);
    ref.push_back(r);
    dev.push_back(d);
  }
  Tensor out_ref = c.fn(ref), out_dev = c.fn(dev);
  ASSERT_EQ(out_dev.device(), Device::cuda()) << what;
  ASSERT_EQ(out_dev.dtype(), dt) << what;
  expect_close(out_dev, out_ref, dt, what + " forward");
  Generator gen(7);
  Tensor w = randn(out_ref.shape(), DType::f64, gen).to(dt).to(DType::f64);
  sum(mul(out_ref, w)).backward();
  sum(mul(out_dev, w.to(dt).to(Device::cuda()))).backward();
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(dev[i].grad().defined()) << what << " grad " << i;
    EXPECT_EQ(dev[i].grad().device(), Device::cuda()) << what;
    expect_close(dev[i].grad(), ref[i].grad(), dt, what + " grad " + std::to_string(i));
  }
}

void check_all(const std::vector<Case>& cases) {
  for (const Case& c : cases)
    for (DType dt : {DType::f32, DType::bf16, DType::f16})
      for (bool transposed : {false, true}) check_parity(c, dt, transposed);
}

// A tensor that claims to live on cuda:0 over host memory that is never touched: what an op
// sees when handed a GPU tensor on a machine without one.
Tensor fake_cuda_tensor(const Shape& shape) {
  auto buf = std::make_shared<std::vector<float>>(size_t(shape_numel(shape)));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(buf->data(), buf->size() * 4, Device::cuda(), buf);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return Tensor(impl);
}

}  // namespace

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
