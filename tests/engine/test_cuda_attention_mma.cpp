// The tensor-core (WMMA) path of the fused CUDA attention (attention_mma_*.cu): bf16/f16 with
// head dims multiples of 16 up to 128. GPU tests (skip without a device): the MMA path against
// the CPU backend in f64 — forward, dq, dk, dv — for d 64 and 128, Dv ≠ D, T not a multiple
// of the 64-row tile, causal with more keys than queries, key masks, additive bias (forward;
// its gradient goes to the CUDA-core kernels), dropout; the MMA path against the CUDA-core
// path (ENGINE_CUDA_ATTENTION=simt) and run-to-run determinism; the raw dispatcher's answer.
// CPU tests (run everywhere): the dispatch rule, the shared-memory plan against the devices'
// limits, the WMMA pointer alignment and leading dimensions, the 64-row causal tile bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "engine/backend/cuda/attention_mma.h"
#include "engine/cuda_parity.h"

using namespace engine;
using namespace cuda_parity;
namespace ak = engine::cuda::kernels::attn;
namespace km = engine::cuda::kernels::attn::mma;

namespace {

// Sets (on) or clears ENGINE_CUDA_ATTENTION=simt for one scope, then restores the caller's value.
struct ForceSimt {
  explicit ForceSimt(bool on) {
    if (const char* e = std::getenv("ENGINE_CUDA_ATTENTION")) saved = e;
    if (on) setenv("ENGINE_CUDA_ATTENTION", "simt", 1);
    else unsetenv("ENGINE_CUDA_ATTENTION");
  }
  ~ForceSimt() {
    if (saved) setenv("ENGINE_CUDA_ATTENTION", saved->c_str(), 1);
    else unsetenv("ENGINE_CUDA_ATTENTION");
  }
  std::optional<std::string> saved;
};

ak::Params shape_params(int64_t D, int64_t Dv, int64_t Tq = 100, int64_t Tk = 100) {
  ak::Params p;
  p.B = 2, p.H = 3, p.Tq = Tq, p.Tk = Tk, p.D = D, p.Dv = Dv;
  return p;
}

constexpr int64_t kA100Optin = 166912, kH100Optin = 232448;  // opt-in shared memory per block

// A [B, Tk] key mask: every third key dropped, and all keys of the last batch (a row that sees
// nothing must give zeros and zero gradients).
Tensor key_mask(int64_t B, int64_t Tk, Device dev) {
  std::vector<float> m(size_t(B * Tk), 1.f);
  for (int64_t j = 0; j < Tk; ++j) {
    if (j % 3 == 1) m[size_t(j)] = 0.f;
    if (B > 1) m[size_t((B - 1) * Tk + j)] = 0.f;
  }
  return from_vector(m, {B, Tk}).to(dev);
}

// A bias that needs no gradient (so the backward stays on the MMA path): the same values on
// both backends, rounded to dt, built on the device of the call.
Tensor fixed_bias(const Shape& shape, DType dt, Device dev) {
  Generator gen(55);
  Tensor b = randn(shape, DType::f64, gen).to(dt);
  return dev.is_cpu() ? b.to(DType::f64) : b.to(dev);
}

Tensor sdpa(const std::vector<Tensor>& v, AttentionOptions o = {}) {
  return scaled_dot_product_attention(v[0], v[1], v[2], o);
}

void check_half_types(const std::vector<Case>& cases) {
  for (const Case& c : cases)
    for (DType dt : {DType::bf16, DType::f16})
      for (bool transposed : {false, true}) check_parity(c, dt, transposed);
}

}  // namespace

// ---- host-side rule and plan (runs without a GPU) --------------------------------------------

TEST(CudaAttentionMmaHost, DispatchRuleTakesHalfTypesWithHeadDimsOf16UpTo128) {
  ForceSimt env(false);
  for (int dt : {cuda::kernels::BF16, cuda::kernels::F16}) {
    for (int64_t d : {16, 32, 48, 64, 80, 96, 112, 128}) EXPECT_TRUE(km::shape_supported(dt, d, d)) << d;
    EXPECT_TRUE(km::shape_supported(dt, 64, 32));
    EXPECT_TRUE(km::shape_supported(dt, 128, 16));
    for (int64_t d : {0, 8, 24, 40, 63, 65, 144, 256}) {
      EXPECT_FALSE(km::shape_supported(dt, d, 64)) << d;
      EXPECT_FALSE(km::shape_supported(dt, 64, d)) << d;
    }
  }
  EXPECT_FALSE(km::shape_supported(cuda::kernels::F32, 64, 64));  // f32 keeps the CUDA-core kernels
  const ak::Params p = shape_params(64, 64);
  EXPECT_TRUE(km::takes_forward(cuda::kernels::BF16, p, kA100Optin));
  EXPECT_FALSE(km::takes_forward(cuda::kernels::F32, p, kA100Optin));
  ak::Grads g;
  float fake = 0;
  g.dq = &fake, g.dk = &fake, g.dv = &fake;
  EXPECT_TRUE(km::takes_backward(cuda::kernels::F16, p, g, kA100Optin));
  g.dbias = &fake;  // dbias comes from the CUDA-core dbias pass: the whole backward falls back
  EXPECT_FALSE(km::takes_backward(cuda::kernels::F16, p, g, kA100Optin));
  g.dbias = nullptr;
  // A device with too little shared memory for the tiles falls back rather than failing.
  EXPECT_FALSE(km::takes_forward(cuda::kernels::BF16, shape_params(128, 128), 96 * 1024));
  EXPECT_FALSE(km::takes_backward(cuda::kernels::BF16, shape_params(128, 128), g, 96 * 1024));
}

TEST(CudaAttentionMmaHost, EnvironmentSwitchForcesTheSimtKernelsPerCall) {
  const ak::Params p = shape_params(64, 64);
  ak::Grads g;
  {
    ForceSimt env(true);
    EXPECT_TRUE(km::forced_simt());
    EXPECT_FALSE(km::takes_forward(cuda::kernels::BF16, p, kH100Optin));
    EXPECT_FALSE(km::takes_backward(cuda::kernels::BF16, p, g, kH100Optin));
  }
  ForceSimt env(false);
  setenv("ENGINE_CUDA_ATTENTION", "mma", 1);  // any other value keeps the default
  EXPECT_FALSE(km::forced_simt());
  unsetenv("ENGINE_CUDA_ATTENTION");
  EXPECT_FALSE(km::forced_simt());
  EXPECT_TRUE(km::takes_forward(cuda::kernels::BF16, p, kH100Optin));
}

TEST(CudaAttentionMmaHost, SharedMemoryPlanFitsEverySupportedShapeOnA100AndH100) {
  for (int64_t D = 16; D <= km::kMaxDim; D += 16)
    for (int64_t Dv = 16; Dv <= km::kMaxDim; Dv += 16) {
      for (int64_t bytes : {km::forward_smem(D, Dv), km::dkdv_smem(D, Dv), km::dq_smem(D, Dv)}) {
        EXPECT_LE(bytes, kA100Optin) << D << " " << Dv;
        EXPECT_EQ(bytes % 128, 0) << D << " " << Dv;
      }
      // Every tile must hold its rows: a region is at least rows × ld × element size.
      EXPECT_GE(km::half_tile(km::kRows, D), km::kRows * km::ld_half(D) * 2);
      EXPECT_GE(km::f32_tile(km::kRows, Dv), km::kRows * km::ld_f32(Dv) * 4);
    }
  // GPT-2 small's head (d 64) leaves room for several blocks per SM on an H100.
  EXPECT_LE(3 * km::forward_smem(64, 64), kH100Optin);
  EXPECT_EQ(km::kThreads, km::kWarps * 32);
  EXPECT_EQ(km::kRows, km::kWarps * km::kFrag);  // each warp owns 16 rows
  EXPECT_EQ(km::kTile % km::kFrag, 0);
}

TEST(CudaAttentionMmaHost, WmmaPointersAreAlignedAndLeadingDimsLegal) {
  // load/store_matrix_sync need 32-byte aligned pointers and ld ≡ 0 mod 8 (16-bit) or 4 (f32).
  // The kernels address tile + row·ld + col with row and col multiples of 16.
  EXPECT_EQ(km::ld_f32(km::kTile) % 4, 0);
  EXPECT_EQ(km::ld_half(km::kTile) % 8, 0);
  for (int64_t d = 16; d <= km::kMaxDim; d += 16) {
    EXPECT_EQ(km::ld_half(d) % 8, 0) << d;
    EXPECT_EQ(km::ld_f32(d) % 4, 0) << d;
    for (int64_t row = 0; row < km::kRows; row += km::kFrag)
      for (int64_t col = 0; col < d; col += km::kFrag) {
        EXPECT_EQ((row * km::ld_half(d) + col) * 2 % 32, 0) << d << " " << row << " " << col;
        EXPECT_EQ((row * km::ld_f32(d) + col) * 4 % 32, 0) << d << " " << row << " " << col;
      }
  }
  // Padded rows shift banks: 16-bit rows of a 64-wide tile do not start on the same bank.
  EXPECT_NE(km::ld_half(64) * 2 % 128, 0);
  EXPECT_NE(km::ld_f32(64) * 4 % 128, 0);
}

TEST(CudaAttentionMmaHost, CausalBoundsOf64RowTilesSkipOnlyInvisibleKeys) {
  for (int64_t Tq : {1, 37, 100, 130})
    for (int64_t Tk : {1, 37, 100, 200})
      for (int64_t off : {int64_t(-70), int64_t(-2), int64_t(0), Tk - Tq, int64_t(90)}) {
        for (int64_t i0 = 0; i0 < Tq; i0 += km::kRows) {
          const int64_t kend = ak::key_end(true, off, Tk, i0, km::kRows);
          for (int64_t i = i0; i < std::min(Tq, i0 + km::kRows); ++i)
            for (int64_t j = kend; j < Tk; ++j) EXPECT_FALSE(ak::causal_visible(true, off, i, j)) << i << " " << j;
        }
        for (int64_t j0 = 0; j0 < Tk; j0 += km::kRows) {
          const int64_t qb = ak::query_begin(true, off, Tq, j0);
          for (int64_t i = 0; i < qb; ++i)
            for (int64_t j = j0; j < std::min(Tk, j0 + km::kRows); ++j)
              EXPECT_FALSE(ak::causal_visible(true, off, i, j)) << i << " " << j;
        }
      }
  ak::Params p = shape_params(64, 64, 100, 37);
  EXPECT_EQ(km::query_blocks(p), 2 * 3 * 2);  // ceil(100 / 64) query tiles per head
  EXPECT_EQ(km::key_blocks(p), 2 * 3 * 1);
}

// ---- GPU parity (skips without a device) -----------------------------------------------------

TEST(CudaAttentionMma, PlainShapesAgainstTheCpu) {
  REQUIRE_GPU();
  ForceSimt env(false);
  check_half_types({
      {"d64 T100", [](auto& v) { return sdpa(v); }, {{2, 3, 100, 64}, {2, 3, 100, 64}, {2, 3, 100, 64}}},
      {"d128 T37", [](auto& v) { return sdpa(v); }, {{1, 2, 37, 128}, {1, 2, 37, 128}, {1, 2, 37, 128}}},
      {"D64 Dv32 Tq37 Tk100", [](auto& v) { return sdpa(v); }, {{1, 2, 37, 64}, {1, 2, 100, 64}, {1, 2, 100, 32}}},
      {"D32 Dv128 Tq130 Tk19", [](auto& v) { return sdpa(v); }, {{1, 2, 130, 32}, {1, 2, 19, 32}, {1, 2, 19, 128}}},
      {"d16 one query", [](auto& v) { return sdpa(v); }, {{1, 1, 1, 16}, {1, 1, 1, 16}, {1, 1, 1, 16}}},
  });
}

TEST(CudaAttentionMma, CausalMaskAndOffsets) {
  REQUIRE_GPU();
  ForceSimt env(false);
  auto causal = [](std::optional<int64_t> off) {
    return [off](auto& v) { AttentionOptions o; o.causal = true; o.q_offset = off; return sdpa(v, o); };
  };
  auto masked = [](auto& v) {
    AttentionOptions o;
    o.mask = key_mask(v[0].size(0), v[1].size(2), v[0].device());
    o.causal = true;
    return sdpa(v, o);
  };
  check_half_types({
      {"causal T130 d64 (tiles skipped)", causal(std::nullopt), {{1, 2, 130, 64}, {1, 2, 130, 64}, {1, 2, 130, 64}}},
      {"causal Tq37 Tk100 (more keys)", causal(std::nullopt), {{1, 2, 37, 64}, {1, 2, 100, 64}, {1, 2, 100, 64}}},
      {"causal q_offset -2 d32", causal(-2), {{1, 2, 37, 32}, {1, 2, 37, 32}, {1, 2, 37, 32}}},
      {"key mask causal T100", masked, {{2, 2, 100, 64}, {2, 2, 100, 64}, {2, 2, 100, 64}}},
  });
}

TEST(CudaAttentionMma, BiasAndDropout) {
  REQUIRE_GPU();
  ForceSimt env(false);
  for (DType dt : {DType::bf16, DType::f16}) {
    auto biased = [dt](double p) {
      return [dt, p](auto& v) {
        Generator gen(2024);  // the same dropout stream for the CPU and the GPU call
        AttentionOptions o;
        o.bias = fixed_bias({2, 100, 100}, dt, v[0].device());  // no gradient: MMA backward
        o.dropout_p = p, o.generator = &gen, o.causal = true;
        return sdpa(v, o);
      };
    };
    auto bias_grad = [](auto& v) {  // dbias wanted: MMA forward, CUDA-core backward
      AttentionOptions o;
      o.bias = v[3];
      return sdpa(v, o);
    };
    const Shape x{1, 2, 100, 64};
    for (bool transposed : {false, true}) {
      check_parity({"bias, no dbias", biased(0.0), {x, x, x}}, dt, transposed);
      check_parity({"bias + dropout 0.2", biased(0.2), {x, x, x}}, dt, transposed);
      check_parity({"dbias (falls back)", bias_grad, {x, x, x, {2, 100, 100}}}, dt, transposed);
    }
  }
}

// The tensor-core path against the CUDA-core path on GPT-2-like heads (several key tiles).
TEST(CudaAttentionMma, AgreesWithTheSimtPathAndIsDeterministic) {
  REQUIRE_GPU();
  for (DType dt : {DType::bf16, DType::f16}) {
    auto [q0, q] = make_leaf({2, 4, 300, 64}, dt, false, false, 11);
    auto [k0, k] = make_leaf({2, 4, 300, 64}, dt, false, false, 12);
    auto [v0, v] = make_leaf({2, 4, 300, 64}, dt, false, false, 13);
    auto run = [&](bool simt) {
      ForceSimt env(simt);  // read per call: both the forward and the backward see it
      for (Tensor* t : {&q, &k, &v}) t->zero_grad();
      AttentionOptions o;
      o.causal = true;
      Tensor out = scaled_dot_product_attention(q, k, v, o);
      sum(mul(out, out)).backward();
      return std::vector<Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
    };
    auto simt = run(true), mma = run(false), again = run(false);
    const char* names[] = {"out", "dq", "dk", "dv"};
    for (size_t i = 0; i < mma.size(); ++i) {
      expect_close(mma[i], simt[i].to(Device::cpu()).to(DType::f64), dt, std::string("mma vs simt ") + names[i]);
      EXPECT_EQ(mma[i].to(Device::cpu()).to_vector<double>(), again[i].to(Device::cpu()).to_vector<double>())
          << dtype_name(dt) << " " << names[i] << " differs from run to run";
    }
  }
}

#ifdef ENGINE_CUDA
// The raw dispatcher launches for a supported call and declines (launching nothing) otherwise.
TEST(CudaAttentionMma, DispatcherTakesOnlySupportedCalls) {
  REQUIRE_GPU();
  ForceSimt env(false);
  Generator gen(3);
  Tensor q = randn({1, 2, 70, 64}, DType::f32, gen).to(DType::bf16).to(Device::cuda());
  Tensor out = zeros({1, 2, 70, 64}, DType::bf16, Device::cuda());
  Tensor lse = zeros({1, 2, 70}, DType::f32, Device::cuda());
  ak::Params p = shape_params(64, 64, 70, 70);
  p.B = 1, p.H = 2, p.scale = 0.125f;
  p.q = p.k = p.v = q.raw_data();
  p.sq = p.sk = p.sv = {q.stride(0), q.stride(1), q.stride(2), q.stride(3)};
  const ak::Strides4 so{out.stride(0), out.stride(1), out.stride(2), out.stride(3)};
  auto* l = static_cast<float*>(lse.raw_data());
  EXPECT_FALSE(km::attention_forward_mma(cuda::kernels::F32, p, out.raw_data(), so, l));
  ak::Params odd = p;
  odd.D = odd.Dv = 24;
  EXPECT_FALSE(km::attention_forward_mma(cuda::kernels::BF16, odd, out.raw_data(), so, l));
  EXPECT_TRUE(km::attention_forward_mma(cuda::kernels::BF16, p, out.raw_data(), so, l));
  Tensor qc = q.to(Device::cpu()).to(DType::f64);
  Tensor want = scaled_dot_product_attention(qc, qc, qc);  // default scale 1/√64 = 0.125
  expect_close(out, want, DType::bf16, "raw mma forward vs the cpu");
  {
    ForceSimt simt(true);
    EXPECT_FALSE(km::attention_forward_mma(cuda::kernels::BF16, p, out.raw_data(), so, l));
  }
}
#endif
