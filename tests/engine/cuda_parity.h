// Shared helpers of the CUDA parity tests (test_cuda_*.cpp): run an op on the CPU in f64 and
// on the GPU in f32 / bf16 / f16, on contiguous and transposed leaves, and compare the
// forward value and every gradient. ggml's test-backend-ops is the model. Parity tests call
// REQUIRE_GPU() first: they skip with a message on machines without a CUDA device.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend/cuda/cuda_device.h"
#include "engine/engine.h"

namespace cuda_parity {
using namespace engine;

#define REQUIRE_GPU() \
  if (!::engine::cuda::available()) GTEST_SKIP() << "no CUDA device (built with CUDA: " << ::engine::cuda::built() << ")"

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Elementwise closeness |a − b| ≤ tol·(1 + |b|), relative to f64 CPU values.
inline double tolerance(DType dt) { return dt == DType::f32 ? 1e-4 : dt == DType::f16 ? 4e-3 : 3e-2; }

inline void expect_close(const Tensor& got, const Tensor& want, DType dt, const std::string& what) {
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
inline std::pair<Tensor, Tensor> make_leaf(const Shape& shape, DType dt, bool transposed, bool positive, uint64_t seed) {
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
inline void check_parity(const Case& c, DType dt, bool transposed) {
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

inline void check_all(const std::vector<Case>& cases) {
  for (const Case& c : cases)
    for (DType dt : {DType::f32, DType::bf16, DType::f16})
      for (bool transposed : {false, true}) check_parity(c, dt, transposed);
}

// The bit patterns of t's values as f32 (from any device and floating dtype): for the
// comparisons the GPU promises to be bit-exact.
inline std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<float> v = t.detach().to(Device::cpu()).to(DType::f32).to_vector<float>();
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * 4);
  return b;
}

// `run` must throw NoKernelError naming `op` (and, unless told otherwise, the device cuda:0):
// what an op says about a GPU tensor on a machine without a device.
inline void expect_no_kernel_error(const std::string& op, const std::function<void()>& run, bool names_device = true) {
  try {
    run();
    ADD_FAILURE() << op << " did not throw";
  } catch (const NoKernelError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(op), std::string::npos) << msg;
    if (names_device) EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
  }
}

// A tensor that claims to live on cuda:0 over host memory that is never touched: what an op
// sees when handed a GPU tensor on a machine without one.
inline Tensor fake_cuda_tensor(const Shape& shape) {
  auto buf = std::make_shared<std::vector<float>>(size_t(shape_numel(shape)));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(buf->data(), buf->size() * 4, Device::cuda(), buf);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return Tensor(impl);
}

}  // namespace cuda_parity
