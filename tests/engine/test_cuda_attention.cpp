// Fused CUDA attention (backend/cuda/attention_*.cu) against the CPU backend in f64: forward
// and every gradient (dq, dk, dv, dbias, prefix) in f32 / bf16 / f16 on contiguous and
// transposed leaves, for odd sizes, causal with and without extra keys, key masks, broadcast
// biases, prefixes, cross-attention, head dim 128 and dropout (the CPU's Philox mask); run to
// run determinism; typed errors. The parity tests skip without a GPU. The CudaAttentionHost
// tests run everywhere: they check the host/device maths the kernels share (Philox dropout
// draw vs the CPU kernel's, causal tile bounds, launch plan).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "engine/backend/cpu/attention_block.h"
#include "engine/backend/cuda/attention_kernels.h"
#include "engine/backend/cuda/cuda_attention.h"
#include "engine/core/philox.h"
#include "engine/cuda_parity.h"

using namespace engine;
using namespace cuda_parity;
namespace ak = engine::cuda::kernels::attn;

namespace {

// A [B, Tk] key mask with a fixed pattern (batch 0 drops every third key, the last batch drops
// all of them unless `keep_last_row`), on `dev`.
Tensor key_mask(int64_t B, int64_t Tk, Device dev, bool keep_last_row = false) {
  std::vector<float> m(size_t(B * Tk), 1.f);
  for (int64_t j = 0; j < Tk; ++j) {
    if (j % 3 == 1) m[size_t(j)] = 0.f;
    if (B > 1 && !keep_last_row) m[size_t((B - 1) * Tk + j)] = 0.f;
  }
  return from_vector(m, {B, Tk}).to(dev);
}

Tensor sdpa(const std::vector<Tensor>& v, AttentionOptions o = {}) {
  return scaled_dot_product_attention(v[0], v[1], v[2], o);
}

}  // namespace

// ---- host maths shared with the kernels (runs without a GPU) --------------------------------

TEST(CudaAttentionHost, PhiloxDrawEqualsTheCpuGenerator) {
  for (uint64_t seed : {0ull, 1ull, 0x9E3779B97F4A7C15ull, 123456789ull})
    for (uint64_t idx : {0ull, 1ull, 77ull, 0xFFFFFFFFull, 0x100000000ull, 0xDEADBEEFCAFEull})
      EXPECT_EQ(ak::philox_word0(seed, idx), philox4x32(seed, idx)[0]) << seed << " " << idx;
}

TEST(CudaAttentionHost, DropoutMaskEqualsTheCpuKernels) {
  // The CPU kernel's mask (cpu::attn::dropout_scales) vs the factor every CUDA pass multiplies by.
  cpu::AttentionArgs<float> a;
  a.B = 2, a.H = 3, a.Tq = 7, a.Tk = 11, a.dropout_p = 0.3f, a.seed = 42, a.offset = 1000;
  ak::Params p;
  p.B = a.B, p.H = a.H, p.Tq = a.Tq, p.Tk = a.Tk, p.dropout_p = a.dropout_p, p.seed = a.seed, p.offset = a.offset;
  std::vector<float> Z(size_t(a.Tq * a.Tk));
  int64_t kept = 0, total = 0;
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t h = 0; h < a.H; ++h) {
      cpu::attn::dropout_scales(a, b, h, 0, a.Tq, 0, a.Tk, Z.data());
      for (int64_t i = 0; i < a.Tq; ++i)
        for (int64_t j = 0; j < a.Tk; ++j) {
          float f = ak::dropout_factor(p, b, h, i, j);
          ASSERT_EQ(f, Z[size_t(i * a.Tk + j)]) << b << "," << h << "," << i << "," << j;
          kept += f != 0.f, ++total;
        }
    }
  EXPECT_GT(kept, total / 2);  // p = 0.3: about 70% kept; 0 or all would mean a broken draw
  EXPECT_LT(kept, total);
}

TEST(CudaAttentionHost, CausalTileBoundsSkipOnlyInvisibleKeys) {
  // key_end(i0, rows) must be one past the last key any of the rows sees; query_begin(j0) the
  // first query that sees key j0 (so every earlier query sees no key >= j0).
  for (int64_t Tq : {1, 5, 37})
    for (int64_t Tk : {1, 9, 37, 70})
      for (int64_t off : {int64_t(-40), int64_t(-3), int64_t(0), Tk - Tq, int64_t(5), int64_t(100)}) {
        for (int64_t i0 = 0; i0 < Tq; i0 += ak::kWarps) {
          int64_t rows = std::min<int64_t>(ak::kWarps, Tq - i0), want = 0;
          for (int64_t i = i0; i < i0 + ak::kWarps; ++i)  // the kernel's tile always spans kWarps rows
            for (int64_t j = 0; j < Tk; ++j)
              if (ak::causal_visible(true, off, i, j)) want = std::max(want, j + 1);
          int64_t got = ak::key_end(true, off, Tk, i0, ak::kWarps);
          EXPECT_EQ(got, want) << "Tq " << Tq << " Tk " << Tk << " off " << off << " i0 " << i0;
          int64_t want_real = 0;  // rows past Tq may only widen the bound, never narrow it
          for (int64_t i = i0; i < i0 + rows; ++i)
            for (int64_t j = 0; j < Tk; ++j)
              if (ak::causal_visible(true, off, i, j)) want_real = std::max(want_real, j + 1);
          EXPECT_GE(got, want_real);
          EXPECT_EQ(ak::key_end(false, off, Tk, i0, ak::kWarps), Tk);
        }
        for (int64_t j0 = 0; j0 < Tk; j0 += ak::kWarps) {
          int64_t qb = ak::query_begin(true, off, Tq, j0);
          ASSERT_GE(qb, 0);
          ASSERT_LE(qb, Tq);
          for (int64_t i = 0; i < qb; ++i)
            for (int64_t j = j0; j < Tk; ++j) EXPECT_FALSE(ak::causal_visible(true, off, i, j));
          if (qb < Tq) {
            EXPECT_TRUE(ak::causal_visible(true, off, qb, j0));
          }
          EXPECT_EQ(ak::query_begin(false, off, Tq, j0), 0);
        }
      }
}

TEST(CudaAttentionHost, LaunchPlanCoversEveryRowAndFitsSharedMemory) {
  ak::Plan pl = ak::plan(2, 3, 37, 45);
  EXPECT_EQ(pl.forward_blocks, 2 * 3 * 5);  // ceil(37 / 8) query blocks per head
  EXPECT_EQ(pl.dq_blocks, pl.forward_blocks);
  EXPECT_EQ(pl.dkdv_blocks, 2 * 3 * 6);     // ceil(45 / 8) key blocks per head
  EXPECT_EQ(pl.delta_blocks, (2 * 3 * 37 + 7) / 8);
  EXPECT_GE(pl.forward_blocks * ak::kWarps, 2 * 3 * 37);
  ak::Plan empty = ak::plan(2, 3, 0, 0);
  EXPECT_EQ(empty.forward_blocks + empty.dkdv_blocks + empty.delta_blocks, 0);  // nothing launched
  EXPECT_LE(std::max({ak::kForwardSmem, ak::kDkDvSmem, ak::kDqSmem}), 48 * 1024);
  EXPECT_EQ(ak::kColsPerLane * 32, int(cuda::kAttentionMaxHeadDim));
}

TEST(CudaAttentionNoDevice, GpuTensorsThrowTypedErrorsNamingAttention) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present: the op runs instead of throwing";
  Tensor q = fake_cuda_tensor({1, 2, 5, 8});
  expect_no_kernel_error("attention", [&] { scaled_dot_product_attention(q, q, q); });
  Tensor c = randn({1, 2, 5, 8});
  EXPECT_THROW(scaled_dot_product_attention(c, q, c), NoKernelError);  // mixed devices
  EXPECT_THROW(scaled_dot_product_attention(q, c, c), NoKernelError);
}

// ---- GPU parity (skips without a device) ----------------------------------------------------

TEST(CudaAttentionParity, PlainCrossAndOddSizes) {
  REQUIRE_GPU();
  check_all({
      {"self T37 d24", [](auto& v) { return sdpa(v); }, {{2, 3, 37, 24}, {2, 3, 37, 24}, {2, 3, 37, 24}}},
      {"cross Tq19 Tk45 d64 dv40", [](auto& v) { return sdpa(v); }, {{1, 2, 19, 64}, {1, 2, 45, 64}, {1, 2, 45, 40}}},
      {"head dim 128", [](auto& v) { return sdpa(v); }, {{1, 2, 33, 128}, {1, 2, 33, 128}, {1, 2, 33, 128}}},
      {"one query one key", [](auto& v) { return sdpa(v); }, {{1, 1, 1, 5}, {1, 1, 1, 5}, {1, 1, 1, 3}}},
      {"scale 1 (T5)", [](auto& v) { AttentionOptions o; o.scale = 1.0; return sdpa(v, o); },
       {{2, 2, 21, 16}, {2, 2, 21, 16}, {2, 2, 21, 16}}},
  });
}

TEST(CudaAttentionParity, Causal) {
  REQUIRE_GPU();
  auto causal = [](std::optional<int64_t> off) {
    return [off](auto& v) { AttentionOptions o; o.causal = true; o.q_offset = off; return sdpa(v, o); };
  };
  check_all({
      {"causal T37 d24", causal(std::nullopt), {{2, 2, 37, 24}, {2, 2, 37, 24}, {2, 2, 37, 24}}},
      {"causal T37 d64", causal(std::nullopt), {{1, 3, 37, 64}, {1, 3, 37, 64}, {1, 3, 37, 64}}},
      {"causal T300 d64 (many tiles)", causal(std::nullopt), {{1, 2, 300, 64}, {1, 2, 300, 64}, {1, 2, 300, 64}}},
      {"causal kv cache Tq5 Tk41", causal(std::nullopt), {{1, 2, 5, 32}, {1, 2, 41, 32}, {1, 2, 41, 32}}},
      {"causal one query Tk70", causal(std::nullopt), {{2, 2, 1, 24}, {2, 2, 70, 24}, {2, 2, 70, 24}}},
      // q_offset −2: queries 0 and 1 see no key (zeros, zero gradients)
      {"causal q_offset -2", causal(-2), {{1, 2, 37, 16}, {1, 2, 37, 16}, {1, 2, 37, 16}}},
  });
}

TEST(CudaAttentionParity, KeyMaskAndBias) {
  REQUIRE_GPU();
  auto masked = [](bool causal) {
    return [causal](auto& v) {
      AttentionOptions o;
      o.mask = key_mask(v[0].size(0), v[1].size(2), v[0].device());
      o.causal = causal;
      return sdpa(v, o);
    };
  };
  auto shared_mask = [](auto& v) {  // [1, Tk]: one mask row for every batch (mask_sb = 0)
    AttentionOptions o;
    o.mask = key_mask(1, v[1].size(2), v[0].device());
    o.causal = true;
    return sdpa(v, o);
  };
  auto biased = [](bool with_mask) {
    return [with_mask](auto& v) {
      AttentionOptions o;
      o.bias = v[3];
      if (with_mask) o.mask = key_mask(v[0].size(0), v[1].size(2), v[0].device(), true);
      return sdpa(v, o);
    };
  };
  const Shape q{2, 3, 37, 24}, kv{2, 3, 37, 24};
  check_all({
      {"key mask (last batch fully masked)", masked(false), {q, kv, kv}},
      {"key mask causal", masked(true), {q, kv, kv}},
      {"key mask [1,Tk] shared over the batch", shared_mask, {q, kv, kv}},
      {"bias full [B,H,Tq,Tk]", biased(false), {q, kv, kv, {2, 3, 37, 37}}},
      {"bias per head [H,Tq,Tk]", biased(true), {q, kv, kv, {3, 37, 37}}},
      {"bias per batch [B,1,Tq,Tk]", biased(false), {q, kv, kv, {2, 1, 37, 37}}},
      {"bias over keys [Tk]", biased(false), {q, kv, kv, {37}}},
      {"bias [1,H,1,Tk]", biased(true), {q, kv, kv, {1, 3, 1, 37}}},
      {"bias cross [H,Tq,Tk]", biased(false), {{1, 3, 19, 64}, {1, 3, 45, 64}, {1, 3, 45, 64}, {3, 19, 45}}},
  });
}

TEST(CudaAttentionParity, PrefixKeysAndValues) {
  REQUIRE_GPU();
  auto prefixed = [](bool extras) {
    return [extras](auto& v) {
      AttentionOptions o;
      o.prefix_k = v[3], o.prefix_v = v[4];
      if (extras) {
        o.mask = key_mask(v[0].size(0), v[1].size(2), v[0].device());
        o.bias = v[5];
        o.causal = true;
      }
      return sdpa(v, o);
    };
  };
  check_all({
      {"prefix P5 shared over batch", prefixed(false),
       {{2, 2, 13, 24}, {2, 2, 13, 24}, {2, 2, 13, 24}, {1, 2, 5, 24}, {1, 2, 5, 24}}},
      {"prefix P5 with mask, bias, causal", prefixed(true),
       {{2, 2, 13, 24}, {2, 2, 13, 24}, {2, 2, 13, 24}, {2, 2, 5, 24}, {2, 2, 5, 24}, {2, 13, 18}}},
  });
}

TEST(CudaAttentionParity, DropoutUsesTheCpuMask) {
  REQUIRE_GPU();
  auto dropped = [](bool causal) {
    return [causal](auto& v) {
      Generator gen(2024);  // the same stream for the CPU and the GPU call
      AttentionOptions o;
      o.dropout_p = 0.25, o.generator = &gen, o.causal = causal;
      o.bias = v[3];
      return sdpa(v, o);
    };
  };
  check_all({
      {"dropout 0.25", dropped(false), {{2, 2, 37, 24}, {2, 2, 37, 24}, {2, 2, 37, 24}, {2, 37, 37}}},
      {"dropout 0.25 causal", dropped(true), {{1, 2, 29, 64}, {1, 2, 29, 64}, {1, 2, 29, 64}, {1, 2, 29, 29}}},
  });
}

// Only some inputs need gradients: the backward computes those alone (dv without v and out).
TEST(CudaAttentionParity, GradientSubsets) {
  REQUIRE_GPU();
  for (int wanted : {0, 1, 2, 3}) {  // q, k, v or bias alone
    std::vector<Shape> shapes{{2, 2, 37, 24}, {2, 2, 37, 24}, {2, 2, 37, 40}, {2, 37, 37}};
    std::vector<Tensor> ref, dev;
    for (size_t i = 0; i < shapes.size(); ++i) {
      auto [r, d] = make_leaf(shapes[i], DType::f32, false, false, 300 + i);
      ref.push_back(int(i) == wanted ? r : r.detach());
      dev.push_back(int(i) == wanted ? d : d.detach());
    }
    auto run = [](const std::vector<Tensor>& v) {
      AttentionOptions o;
      o.bias = v[3], o.causal = true;
      return sdpa(v, o);
    };
    Tensor out_ref = run(ref), out_dev = run(dev);
    Generator gen(9);
    Tensor w = randn(out_ref.shape(), DType::f64, gen).to(DType::f32).to(DType::f64);
    sum(mul(out_ref, w)).backward();
    sum(mul(out_dev, w.to(DType::f32).to(Device::cuda()))).backward();
    expect_close(out_dev, out_ref, DType::f32, "subset forward");
    expect_close(dev[size_t(wanted)].grad(), ref[size_t(wanted)].grad(), DType::f32,
                 "grad of input " + std::to_string(wanted));
  }
}

TEST(CudaAttentionParity, DeterministicFromRunToRun) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16}) {
    auto [q0, q] = make_leaf({2, 4, 67, 64}, dt, false, false, 1);
    auto [k0, k] = make_leaf({2, 4, 67, 64}, dt, false, false, 2);
    auto [v0, v] = make_leaf({2, 4, 67, 64}, dt, false, false, 3);
    auto [b0, bias] = make_leaf({4, 67, 67}, dt, false, false, 4);  // dbias sums over the batch
    std::vector<std::vector<double>> runs[2];
    for (auto& r : runs) {
      for (Tensor* t : {&q, &k, &v, &bias}) t->zero_grad();
      AttentionOptions o;
      o.bias = bias, o.causal = true;
      Tensor out = scaled_dot_product_attention(q, k, v, o);
      sum(mul(out, out)).backward();
      r.push_back(out.detach().to(Device::cpu()).to_vector<double>());
      for (Tensor* t : {&q, &k, &v, &bias}) r.push_back(t->grad().to(Device::cpu()).to_vector<double>());
    }
    for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_EQ(runs[0][i], runs[1][i]) << dtype_name(dt) << " tensor " << i;
  }
}

// A key mask on the other device than q, k, v is copied over (the CPU kernel must never read
// device memory through it).
TEST(CudaAttentionParity, MaskOnTheOtherDeviceIsCopied) {
  REQUIRE_GPU();
  Tensor x = randn({2, 2, 7, 8}), xd = x.to(Device::cuda());
  AttentionOptions host, gpu;
  host.mask = key_mask(2, 7, Device::cpu(), true);
  gpu.mask = key_mask(2, 7, Device::cuda(), true);
  Tensor want = scaled_dot_product_attention(x, x, x, host);
  expect_close(scaled_dot_product_attention(x, x, x, gpu), want, DType::f32, "gpu mask, cpu call");
  expect_close(scaled_dot_product_attention(xd, xd, xd, host), want, DType::f32, "cpu mask, gpu call");
}

TEST(CudaAttentionParity, TypedErrorsOnTheGpu) {
  REQUIRE_GPU();
  Tensor q = randn({1, 2, 5, 129}).to(Device::cuda());
  EXPECT_THROW(scaled_dot_product_attention(q, q, q), NoKernelError);  // head dim > 128
  Tensor d = randn({1, 2, 5, 8}, DType::f64).to(Device::cuda());
  EXPECT_THROW(scaled_dot_product_attention(d, d, d), DTypeError);  // f64 is CPU-only
  Tensor x = randn({1, 2, 5, 8}).to(Device::cuda());
  AttentionOptions o;
  o.bias = randn({2, 5, 5});  // on the host
  EXPECT_THROW(scaled_dot_product_attention(x, x, x, o), NoKernelError);
  AttentionOptions m;
  m.mask = ones({1, 4}).to(Device::cuda());  // wrong key count
  EXPECT_THROW(scaled_dot_product_attention(x, x, x, m), ShapeError);
}
