// LoKr specifics: PEFT's factorization() and factor-shape rule, the Kronecker product, and the
// keys a GPT-2 c_attn (96 x 32, Conv1D) gets when r is small enough to decompose w2.
#include "peft/methods/lokr/config.h"
#include "peft/methods/lokr/layer.h"
#include "test_lora_helpers.h"

namespace {

using namespace lora_test;
using peft::lokr::factorization;
using P = std::pair<int64_t, int64_t>;

TEST(Lokr, FactorizationIsPefts) {
  EXPECT_EQ(factorization(32), P(4, 8));
  EXPECT_EQ(factorization(96), P(8, 12));
  EXPECT_EQ(factorization(768), P(24, 32));
  EXPECT_EQ(factorization(30), P(5, 6));
  EXPECT_EQ(factorization(7), P(1, 7));     // a prime: 1 x n
  EXPECT_EQ(factorization(32, 16), P(2, 16));  // a dividing factor is used as is (ordered)
  EXPECT_EQ(factorization(30, 4), P(3, 10));   // not dividing: the smaller part stays <= 4
}

TEST(Lokr, ShapeRuleDecomposesOnlyWhenRIsSmall) {
  auto s = peft::lokr::lokr_shape(32, 32, 4, false, -1);  // the fixture: w1 [4,4], w2 [8,8]
  EXPECT_EQ(std::vector<int64_t>({s.out_l, s.in_m, s.out_k, s.in_n}), std::vector<int64_t>({4, 4, 8, 8}));
  EXPECT_TRUE(s.full_w1);
  EXPECT_TRUE(s.full_w2);  // 4 < 8/2 is false
  s = peft::lokr::lokr_shape(32, 32, 1, true, -1);
  EXPECT_FALSE(s.full_w1);  // decompose_both and 1 < 4/2
  EXPECT_FALSE(s.full_w2);
}

TEST(Lokr, KronIsTorchKron) {
  Tensor a = engine::from_vector({1.f, 2.f, 3.f, 4.f}, {2, 2});
  Tensor b = engine::from_vector({0.f, 5.f, 6.f, 7.f, 1.f, 2.f}, {2, 3});
  Tensor k = peft::lokr::kron(a, b);  // [4, 6]
  ASSERT_EQ(k.shape(), (engine::Shape{4, 6}));
  const std::vector<float> v = k.to_vector<float>();
  const std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t p = 0; p < 2; ++p)
        for (int64_t q = 0; q < 3; ++q) EXPECT_EQ(v[(i * 2 + p) * 6 + j * 3 + q], av[i * 2 + j] * bv[p * 3 + q]);
}

TEST(Lokr, Conv1DTargetGetsPeftShapedFactors) {
  peft::PeftModel pm(tiny_model("gpt2"));
  auto& ad = pm.add_adapter("default", peft::make_config("lokr", {{"r", 4}}));
  std::map<std::string, engine::Shape> shapes;
  for (const auto& [k, t] : ad.file_tensors()) shapes[k] = t.shape();
  const std::string p = "base_model.model.transformer.h.0.attn.c_attn.";
  // out 96 = 8·12, in 32 = 4·8; r = 4 < max(12, 8)/2 so w2 = w2_a·w2_b.
  EXPECT_EQ(shapes.at(p + "lokr_w1"), (engine::Shape{8, 4}));
  EXPECT_EQ(shapes.at(p + "lokr_w2_a"), (engine::Shape{12, 4}));
  EXPECT_EQ(shapes.at(p + "lokr_w2_b"), (engine::Shape{4, 8}));
  EXPECT_EQ(shapes.size(), 6u);  // 2 blocks x 3 tensors
  // PEFT's default init keeps the model's outputs (w1 = 0).
  const models::Batch batch = tiny_batch("gpt2");
  const Tensor adapted = pm.forward(batch).logits.clone();
  auto off = pm.disable_adapters();
  EXPECT_EQ(max_diff(pm.forward(batch).logits, adapted), 0.0);
}

}  // namespace
