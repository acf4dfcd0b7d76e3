// PiSSA and OLoRA: the decompositions (linalg.h) and the initialisations built on them —
// the model's output is unchanged right after init, and A, B carry the structure of the SVD
// (PiSSA) or the QR factorisation (OLoRA) of the original weight.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "peft/methods/lora/layer.h"
#include "peft/methods/lora/linalg.h"
#include "test_lora_helpers.h"

namespace {
using engine::DType;
using engine::Tensor;
using peft::lora::LoraLinear;
using namespace lora_test;

Tensor random_matrix(int64_t m, int64_t n, uint64_t seed) {
  engine::Generator gen(seed);
  return engine::randn({m, n}, DType::f64, gen);
}

Tensor eye(int64_t n) {
  std::vector<double> v(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[size_t(i * n + i)] = 1.0;
  return engine::from_vector(v, {n, n});
}

TEST(LoraLinalg, SvdAndQrReconstructTallAndWideMatrices) {
  for (auto [m, n] : {std::pair<int64_t, int64_t>{12, 7}, {7, 12}, {9, 9}}) {
    Tensor a = random_matrix(m, n, 2);
    const int64_t k = std::min(m, n);
    peft::lora::Svd d = peft::lora::svd(a);
    EXPECT_LT(max_diff(engine::matmul(d.U * engine::unsqueeze(d.S, 0), d.Vh), a), 1e-12);
    EXPECT_LT(max_diff(engine::matmul(d.U.transpose(0, 1), d.U), eye(k)), 1e-12);
    EXPECT_LT(max_diff(engine::matmul(d.Vh, d.Vh.transpose(0, 1)), eye(k)), 1e-12);
    const std::vector<double> s = d.S.to_vector<double>();
    for (size_t i = 1; i < s.size(); ++i) EXPECT_GE(s[i - 1], s[i]);

    peft::lora::Qr f = peft::lora::qr(a);
    EXPECT_EQ(f.Q.shape(), (engine::Shape{m, k}));
    EXPECT_EQ(f.R.shape(), (engine::Shape{k, n}));
    EXPECT_LT(max_diff(engine::matmul(f.Q, f.R), a), 1e-12);
    EXPECT_LT(max_diff(engine::matmul(f.Q.transpose(0, 1), f.Q), eye(k)), 1e-12);
    const std::vector<double> r = f.R.to_vector<double>();
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < std::min(i, n); ++j) EXPECT_EQ(r[size_t(i * n + j)], 0.0);
  }
}

TEST(LoraLinalg, LowRankSvdIsExactOnALowRankMatrix) {
  for (auto [m, n] : {std::pair<int64_t, int64_t>{20, 9}, {9, 20}}) {
    Tensor a = engine::matmul(random_matrix(m, 3, 4), random_matrix(3, n, 5));  // rank 3
    engine::Generator gen(6);
    peft::lora::Svd d = peft::lora::svd_lowrank(a, 3, 2, gen);
    EXPECT_EQ(d.U.shape(), (engine::Shape{m, 3}));
    EXPECT_EQ(d.Vh.shape(), (engine::Shape{3, n}));
    EXPECT_LT(max_diff(engine::matmul(d.U * engine::unsqueeze(d.S, 0), d.Vh), a), 1e-10);
  }
}

// Every LoraLinear of the adapter with its original weight [out,in] (f64).
struct Wrapped {
  LoraLinear* layer;
  Tensor original;
};

std::vector<Wrapped> wrap(peft::PeftModel& pm, const std::string& kind, const nlohmann::json& overrides) {
  std::map<std::string, Tensor> originals;
  for (const auto& [name, t] : pm.base().named_parameters()) originals[name] = engine::to_dtype(t, DType::f64).clone();
  auto& ad = static_cast<peft::LayerAdapter&>(pm.add_adapter("default", lora_config(overrides)));
  std::vector<Wrapped> out;
  for (const auto& [path, layer] : ad.layers()) {
    auto* lin = dynamic_cast<LoraLinear*>(layer.get());
    Tensor w = originals.at(path + ".weight");
    out.push_back({lin, kind == "gpt2" ? w.transpose(0, 1).contiguous() : w});  // Conv1D: [in,out] -> [out,in]
  }
  return out;
}

TEST(Pissa, OutputUnchangedAndFactorsAreTheTruncatedSvd) {
  for (const std::string kind : {"bert", "gpt2"}) {
    const models::Batch batch = tiny_batch(kind);
    const Tensor before = tiny_model(kind)->forward(batch).logits;
    peft::PeftModel pm(tiny_model(kind));
    const double s = 2.0;  // alpha 8 / r 4
    for (const Wrapped& w : wrap(pm, kind, {{"r", 4}, {"lora_alpha", 8}, {"init_lora_weights", "pissa"}})) {
      Tensor A = engine::to_dtype(w.layer->lora_A("default"), DType::f64);  // [r,in]
      Tensor B = engine::to_dtype(w.layer->lora_B("default"), DType::f64);  // [out,r]
      peft::lora::Svd d = peft::lora::svd(w.original);
      Tensor sr = d.S.narrow(0, 0, 4);
      Tensor truncated = engine::matmul(d.U.narrow(1, 0, 4) * engine::unsqueeze(sr, 0), d.Vh.narrow(0, 0, 4));
      EXPECT_LT(max_diff(engine::matmul(B, A), truncated / s), 1e-6);
      // A·Aᵀ = Bᵀ·B = diag(S_r / s): orthogonal rows / columns carrying √(S_r/s) each.
      Tensor diag = eye(4) * engine::unsqueeze(sr / s, 0);
      EXPECT_LT(max_diff(engine::matmul(A, A.transpose(0, 1)), diag), 1e-6);
      EXPECT_LT(max_diff(engine::matmul(B.transpose(0, 1), B), diag), 1e-6);
      // The base keeps the residual.
      EXPECT_LT(max_diff(engine::to_dtype(w.layer->base_weight_out_in(), DType::f64), w.original - truncated), 1e-6);
    }
    EXPECT_LT(max_diff(pm.forward(batch).logits, before), 1e-5) << kind;
  }
}

TEST(Pissa, FastSvdVariantKeepsOutputsAndApproximatesTheTopSubspace) {
  const models::Batch batch = tiny_batch("bert");
  const Tensor before = tiny_model("bert")->forward(batch).logits;
  peft::PeftModel pm(tiny_model("bert"));
  for (const Wrapped& w : wrap(pm, "bert", {{"r", 4}, {"init_lora_weights", "pissa_niter_4"}})) {
    Tensor residual = engine::to_dtype(w.layer->base_weight_out_in(), DType::f64);
    const std::vector<double> s = peft::lora::svd(w.original).S.to_vector<double>();
    double best = 0;  // the optimal rank-4 residual (Eckart–Young)
    for (size_t i = 4; i < s.size(); ++i) best += s[i] * s[i];
    const double err = engine::sum(residual * residual).item<double>();
    EXPECT_LE(std::sqrt(err), 1.1 * std::sqrt(best));
  }
  EXPECT_LT(max_diff(pm.forward(batch).logits, before), 1e-5);
}

TEST(Olora, OutputUnchangedBOrthonormalAUpperTriangular) {
  for (const std::string kind : {"bert", "gpt2"}) {
    const models::Batch batch = tiny_batch(kind);
    const Tensor before = tiny_model(kind)->forward(batch).logits;
    peft::PeftModel pm(tiny_model(kind));
    for (const Wrapped& w : wrap(pm, kind, {{"r", 4}, {"lora_alpha", 16}, {"init_lora_weights", "olora"}})) {
      Tensor A = engine::to_dtype(w.layer->lora_A("default"), DType::f64);  // [r,in] = R[:r]
      Tensor B = engine::to_dtype(w.layer->lora_B("default"), DType::f64);  // [out,r] = Q[:, :r]
      EXPECT_LT(max_diff(engine::matmul(B.transpose(0, 1), B), eye(4)), 1e-6);
      const std::vector<double> a = A.to_vector<double>();
      const int64_t in = A.size(1);
      for (int64_t i = 1; i < 4; ++i)
        for (int64_t j = 0; j < i; ++j) EXPECT_EQ(a[size_t(i * in + j)], 0.0);
      Tensor base = engine::to_dtype(w.layer->base_weight_out_in(), DType::f64);
      EXPECT_LT(max_diff(base + engine::matmul(B, A) * 4.0, w.original), 1e-6);
    }
    EXPECT_LT(max_diff(pm.forward(batch).logits, before), 1e-5) << kind;
  }
}

TEST(Pissa, RankAboveTheMatrixRankAndBadNiterAreConfigErrors) {
  peft::PeftModel pm(tiny_model("bert"));
  EXPECT_THROW(pm.add_adapter("a", lora_config({{"r", 40}, {"init_lora_weights", "pissa"}})), engine::ConfigError);
  EXPECT_THROW(pm.add_adapter("b", lora_config({{"init_lora_weights", "pissa_niter_x"}})), engine::ConfigError);
  EXPECT_TRUE(pm.adapter_names().empty());
}

}  // namespace
