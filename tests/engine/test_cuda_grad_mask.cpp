// Gradient masks on a GPU parameter: the compact gradient (element and row masks), its dense
// view, and the optimizer's masked update must equal the CPU's, and entries outside the mask
// must stay bit-identical. Skips without a CUDA device.
#include <gtest/gtest.h>

#include "engine/cuda_parity.h"
#include "engine/optim/adamw.h"

using namespace engine;
using namespace cuda_parity;

namespace {

// A loss over w that gives every entry a different gradient.
Tensor masked_loss(const Tensor& w, const Tensor& x) { return sum(mul(matmul(x, w), matmul(x, w))); }

void expect_equal(const Tensor& gpu, const Tensor& cpu, double tol, const std::string& what) {
  auto g = gpu.to(Device::cpu()).to(DType::f64).to_vector<double>();
  auto c = cpu.to(DType::f64).to_vector<double>();
  ASSERT_EQ(g.size(), c.size()) << what;
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], c[i], tol * (1 + std::abs(c[i]))) << what << " at " << i;
}

}  // namespace

TEST(CudaGradMask, CompactGradientsAndMaskedAdamWMatchTheCpu) {
  REQUIRE_GPU();
  Generator gen(11);
  Tensor x = randn({5, 7}, DType::f32, gen), w0 = randn({7, 6}, DType::f32, gen);
  std::vector<bool> bits(42);
  for (int i = 0; i < 42; ++i) bits[size_t(i)] = i % 5 == 1 || i == 40;
  Tensor keep = from_vector(bits, {7, 6});
  for (bool rows : {false, true}) {
    const std::string what = rows ? "row mask" : "element mask";
    Tensor wc = w0.clone().requires_grad_(), wg = w0.to(Device::cuda()).requires_grad_();
    for (const Tensor& w : {wc, wg}) {
      if (rows) set_row_mask(w, {5, 0, 3});
      else set_element_mask(w, keep);
    }
    masked_loss(wc, x).backward();
    masked_loss(wg, x.to(Device::cuda())).backward();
    ASSERT_EQ(wg.grad().shape(), compact_shape(wc)) << what;
    EXPECT_EQ(wg.grad().device(), Device::cuda()) << what;
    expect_equal(wg.grad(), wc.grad(), 1e-5, what + " compact grad");
    expect_equal(expand_compact(*grad_mask(wg), wg.grad(), wg.shape()),
                 expand_compact(*grad_mask(wc), wc.grad(), wc.shape()), 1e-5, what + " dense view");
    optim::AdamW oc({{"w", wc}}, {.lr = 0.1}), og({{"w", wg}}, {.lr = 0.1});
    oc.step();
    og.step();
    expect_equal(wg, wc, 1e-5, what + " after a step");
    // Entries outside the mask are untouched, bit for bit.
    auto before = w0.to_vector<float>(), after = wg.detach().to(Device::cpu()).to_vector<float>();
    Tensor dense_mask = expand_compact(*grad_mask(wc), ones(compact_shape(wc)), wc.shape());
    auto in_mask = dense_mask.to_vector<float>();
    for (size_t i = 0; i < before.size(); ++i)
      if (in_mask[i] == 0) EXPECT_EQ(after[i], before[i]) << what << " entry " << i << " outside the mask moved";
  }
}

TEST(CudaGradMask, AddCompactAddsOnceAndRoundsOnce) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16}) {
    Generator gen(5);
    Tensor p = randn({6, 4}, DType::f32, gen).to(dt), c = randn({2, 4}, DType::f32, gen);
    Tensor pg = p.to(Device::cuda());
    set_row_mask(p, {4, 1});
    set_row_mask(pg, {4, 1});
    add_compact_(p, *grad_mask(p), c);
    add_compact_(pg, *grad_mask(pg), c.to(Device::cuda()));
    EXPECT_EQ(pg.to(Device::cpu()).to(DType::f32).to_vector<float>(), p.to(DType::f32).to_vector<float>())
        << dtype_name(dt);
  }
}
