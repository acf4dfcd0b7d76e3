// Shape ops: every view and copy op gradchecked in f64 on non-contiguous leaves, plus the
// promise that views never copy.
#include <gtest/gtest.h>

#include "engine/autograd/gradcheck.h"
#include "engine/engine.h"

using namespace engine;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

namespace {
// A [3,4,5] f64 leaf viewed through a permutation (so it is not contiguous).
Tensor strided_leaf(uint64_t seed) {
  Generator gen(seed);
  return randn({5, 3, 4}, DType::f64, gen).permute({1, 2, 0}).detach().requires_grad_();
}
void expect_gradcheck(const Fn& fn, const std::vector<Tensor>& inputs) {
  auto r = autograd::gradcheck(fn, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}
}  // namespace

TEST(OpsShape, ViewOpsGradcheck) {
  Tensor x = strided_leaf(1);
  ASSERT_FALSE(x.is_contiguous());
  expect_gradcheck([](auto& in) { return in[0].reshape({12, 5}); }, {x});
  expect_gradcheck([](auto& in) { return in[0].permute({2, 0, 1}); }, {x});
  expect_gradcheck([](auto& in) { return in[0].transpose(0, 2); }, {x});
  expect_gradcheck([](auto& in) { return in[0].narrow(1, 1, 2); }, {x});
  expect_gradcheck([](auto& in) { return in[0].select(2, -1); }, {x});
  expect_gradcheck([](auto& in) { return in[0].unsqueeze(1).expand({3, 2, 4, 5}); }, {x});
  expect_gradcheck([](auto& in) { return in[0].narrow(0, 0, 1).squeeze(0); }, {x});
  expect_gradcheck([](auto& in) { return in[0].flatten(1); }, {x});
  expect_gradcheck([](auto& in) { return in[0].contiguous(); }, {x});
  expect_gradcheck([](auto& in) { return in[0].clone(); }, {x});
  // Through f32 the function is still linear, but rounding needs a wide step and tolerance.
  auto r = autograd::gradcheck([](auto& in) { return in[0].to(DType::f32).to(DType::f64) * 3.0; }, {x},
                               /*eps=*/1e-2, /*atol=*/1e-4, /*rtol=*/1e-3);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(OpsShape, ConcatStackSplitGradcheck) {
  Tensor a = strided_leaf(2), b = strided_leaf(3);
  expect_gradcheck([](auto& in) { return concat({in[0], in[1].narrow(1, 0, 2)}, 1); }, {a, b});
  expect_gradcheck([](auto& in) { return stack({in[0], in[1]}, 0); }, {a, b});
  expect_gradcheck([](auto& in) {
    auto parts = split(in[0], {1, 3}, 1);
    return parts[1] * 2.0 + parts[0];
  }, {a});
  expect_gradcheck([](auto& in) { return chunk(in[0], 2, 2)[1]; }, {a});
}

TEST(OpsShape, ViewsDoNotCopy) {
  Tensor x = zeros({2, 3, 4});
  for (Tensor v : {x.reshape({6, 4}), x.permute({2, 0, 1}), x.narrow(1, 1, 1), x.select(0, 1),
                   x.unsqueeze(0).expand({5, 2, 3, 4}), x.flatten()})
    EXPECT_EQ(v.storage(), x.storage());
  // A transposed tensor cannot be flattened without a copy: reshape copies, view refuses.
  EXPECT_NE(x.transpose(0, 2).reshape({24}).storage(), x.storage());
  EXPECT_THROW(x.transpose(0, 2).view({24}), ShapeError);
}

TEST(OpsShape, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({2, 3});
  try {
    concat({x, zeros({3, 3})}, 1);
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[concat]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[2,3]"), std::string::npos);
  }
  EXPECT_THROW(x.narrow(1, 2, 2), IndexError);
  EXPECT_THROW(x.reshape({4, 2}), ShapeError);
  EXPECT_THROW(x.permute({0, 0}), ShapeError);
}
