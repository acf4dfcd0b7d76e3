// CUDA indexing ops and dropout. CudaIndexingHost runs everywhere: it executes the kernels'
// per-element maths (indexing_kernels.h, the same ENGINE_INDEXING_HD code nvcc compiles) on
// the CPU and checks it against the CPU backend bit for bit: Philox words, dropout masks,
// row-gather offsets, grouped row sums in the CPU's summation order, gather/scatter line
// offsets over strided operands. CudaIndexingNoDevice checks the typed errors without a GPU.
// CudaIndexing (GPU only, skipped otherwise) compares every op's forward and gradients with
// the CPU in f64 for f32/bf16/f16, contiguous and transposed, and checks determinism, dropout
// masks equal to the CPU's, row gathers of views off the 16-byte boundary, the row-masked
// embedding's compact gradient and the typed errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend/cpu/indexing.h"
#include "engine/backend/cuda/indexing_kernels.h"
#include "engine/core/philox.h"
#include "engine/cuda_parity.h"

using namespace engine;
using namespace cuda_parity;
namespace k = engine::cuda::kernels;

namespace {

// n ids in [0, vocab), scrambled so that every id repeats at scattered positions.
std::vector<int64_t> scrambled(int64_t n, int64_t vocab) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = (i * 7919 + i / 3) % vocab;
  return v;
}

Tensor ids_tensor(std::vector<int64_t> v, const Shape& s) { return from_vector(v, s); }

// The index on the device of `like` (copied when `like` is on a GPU).
Tensor on(const Tensor& index, const Tensor& like) { return like.device().is_cpu() ? index : index.to(like.device()); }

// Values spanning several magnitudes, so that a different summation order changes the bits.
std::vector<float> wide_values(int64_t n, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v = randn({n}, DType::f32, gen).to_vector<float>();
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] *= std::pow(10.f, float(i % 7) - 3.f);
  return v;
}

}  // namespace

// ---------------------------------------------------------------- host (run everywhere)

TEST(CudaIndexingHost, PhiloxTwinEqualsCorePhiloxBitForBit) {
  const uint64_t seeds[] = {0, 1, 42, 0xDEADBEEFCAFEBABEull, ~0ull};
  std::vector<uint64_t> counters;
  for (uint64_t c = 0; c < 512; ++c) counters.push_back(c);
  for (uint64_t c : {0xFFFFFFFFull, 0x100000000ull, (1ull << 40) + 7, ~0ull}) counters.push_back(c);
  for (uint64_t seed : seeds)
    for (uint64_t c : counters) {
      uint32_t w[4];
      k::philox4x32_hd(seed, c, w);
      auto want = philox4x32(seed, c);
      for (int i = 0; i < 4; ++i) ASSERT_EQ(w[i], want[size_t(i)]) << "seed " << seed << " counter " << c;
      ASSERT_EQ(k::philox_uniform_hd(seed, c), philox_uniform(seed, c)) << "seed " << seed << " counter " << c;
    }
}

TEST(CudaIndexingHost, DropoutElementEqualsCpuDropoutMask) {
  const int64_t n = 1037;
  std::vector<float> x = wide_values(n, 5);
  for (double p : {0.1, 0.5, 0.9, 1.0}) {
    const uint64_t seed = 1234, offset = 99;
    std::vector<float> want(size_t(n), 0.f), got(static_cast<size_t>(n));
    cpu::dropout_apply<float>(x.data(), want.data(), n, p, seed, offset);
    for (int64_t i = 0; i < n; ++i)
      got[size_t(i)] = k::dropout_element(x[size_t(i)], seed, offset + uint64_t(i), float(p), k::dropout_scale(p));
    EXPECT_EQ(got, want) << "p " << p;
  }
  // Through the op: a generator at (seed, 0) draws the same mask.
  Tensor xt = from_vector(x, {n});
  Generator gen(77);
  std::vector<float> via_op = dropout(xt, 0.3, true, gen).to_vector<float>(), got(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    got[size_t(i)] = k::dropout_element(x[size_t(i)], 77, uint64_t(i), 0.3f, k::dropout_scale(0.3));
  EXPECT_EQ(got, via_op);
}

TEST(CudaIndexingHost, RowGatherOffsetsReproduceIndexSelect) {
  Generator gen(1);
  Tensor x = randn({3, 5, 4}, DType::f32, gen);
  const std::vector<int64_t> base = {4, 0, 4, 2, 1, 4, 3};
  const float* src = x.data<float>();
  for (int64_t dim = 0; dim < 3; ++dim) {
    std::vector<int64_t> idx;
    for (int64_t v : base) idx.push_back(v % x.size(dim));
    const int64_t kk = int64_t(idx.size());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
    for (int64_t d = dim + 1; d < 3; ++d) inner *= x.size(d);
    std::vector<float> got(size_t(outer * kk * inner));
    for (int64_t i = 0; i < int64_t(got.size()); ++i)
      got[size_t(i)] = src[k::row_gather_offset(i, idx.data(), kk, x.size(dim), inner)];
    EXPECT_EQ(got, index_select(x, dim, ids_tensor(idx, {kk})).to_vector<float>()) << "dim " << dim;
  }
}

TEST(CudaIndexingHost, RowGatherInWideWordsReproducesEmbedding) {
  EXPECT_EQ(k::row_copy_word(256, 512, 3072), 16);  // 768 f32: 16-byte words
  EXPECT_EQ(k::row_copy_word(256, 264, 3072), 8);   // a view 8 bytes in
  EXPECT_EQ(k::row_copy_word(256, 512, 116), 4);    // 29 f32
  EXPECT_EQ(k::row_copy_word(256, 512, 58), 2);     // 29 bf16
  EXPECT_EQ(k::row_copy_word(256, 512, 29), 1);     // 29 bool
  Generator gen(6);
  Tensor w = randn({9, 12}, DType::f32, gen);  // 48-byte rows: three 16-byte words each
  const std::vector<int64_t> ids = {3, 8, 3, 0, 5};
  const int word = k::row_copy_word(0, 0, 12 * 4), inner = 12 * 4 / word;
  ASSERT_EQ(word, 16);
  std::vector<float> got(ids.size() * 12);
  auto* dst = reinterpret_cast<unsigned char*>(got.data());
  const auto* src = static_cast<const unsigned char*>(w.raw_data());
  for (int64_t i = 0; i < int64_t(ids.size()) * inner; ++i)
    std::memcpy(dst + i * word, src + k::row_gather_offset(i, ids.data(), int64_t(ids.size()), 9, inner) * word,
                size_t(word));
  EXPECT_EQ(got, embedding(ids_tensor(ids, {5}), w).to_vector<float>());
}

TEST(CudaIndexingHost, GroupedRowSumIsTheCpuScatterAddBitForBit) {
  const int64_t outer = 3, rows = 11, inner = 7, kk = 50;
  std::vector<int64_t> idx(static_cast<size_t>(kk));
  for (int64_t i = 0; i < kk; ++i) idx[size_t(i)] = i % 9 == 4 ? -1 : (i * 7 + i / 3) % rows;  // repeats, skips
  std::vector<float> src = wide_values(outer * kk * inner, 9);
  std::vector<float> want(size_t(outer * rows * inner), 0.f), got = want, reversed = want;
  cpu::index_add_rows<float>(want.data(), rows, src.data(), idx.data(), kk, outer, inner);
  const cpu::RowGroups g = cpu::group_by_row(idx.data(), kk);
  for (int64_t i = 0; i < outer * g.count() * inner; ++i) {
    const k::GroupedElement e = k::grouped_element(i, g.starts.data(), g.dest.data(), g.count(), kk, rows, inner);
    float acc = 0.f, rev = 0.f;
    for (int64_t p = e.begin; p < e.end; ++p) acc += src[size_t(e.src_base + g.order[size_t(p)] * inner)];
    for (int64_t p = e.end; p-- > e.begin;) rev += src[size_t(e.src_base + g.order[size_t(p)] * inner)];
    got[size_t(e.dst)] = acc;
    reversed[size_t(e.dst)] = rev;
  }
  EXPECT_EQ(got, want);
  EXPECT_NE(reversed, want) << "the data should be sensitive to the summation order";
}

TEST(CudaIndexingHost, LineOffsetsReproduceGatherAndScatterAddOnStridedOperands) {
  Generator gen(2);
  Tensor x = randn({4, 5, 6}, DType::f32, gen).permute({2, 1, 0});  // [6, 5, 4], strided
  for (int64_t dim = 0; dim < 3; ++dim) {
    Shape ishape = {x.size(0) - 1, x.size(1) - 1, x.size(2) - 1};
    ishape[size_t(dim)] = 7;  // longer than x along dim: repeats
    const int64_t n = shape_numel(ishape);
    std::vector<int64_t> iv = scrambled(n, x.size(dim));
    Tensor idx = ids_tensor(iv, ishape);
    // gather: operand 0 = out (contiguous), 1 = x (strided), 2 = index
    Shape out_st = contiguous_strides(ishape);
    const int64_t* st[3] = {out_st.data(), x.strides().data(), idx.strides().data()};
    k::LineLayout ll = k::make_line_layout(3, ishape.data(), int(dim), st);
    ASSERT_EQ(k::line_count(ll) * ll.len, n);
    std::vector<float> got(static_cast<size_t>(n));
    const float* xp = x.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      int64_t off[3];
      k::line_offsets(ll, i / ll.len, off);
      const int64_t j = i % ll.len;
      const int64_t v = iv[size_t(off[2] + j * ll.dim_stride[2])];
      got[size_t(off[0] + j * ll.dim_stride[0])] = xp[off[1] + v * ll.dim_stride[1]];
    }
    EXPECT_EQ(got, gather(x, dim, idx).to_vector<float>()) << "gather dim " << dim;
    // scatter_add: operand 0 = src (strided), 1 = out (contiguous copy of x), 2 = index
    Shape rev = {ishape[2], ishape[1], ishape[0]};
    Tensor src = from_vector(wide_values(n, 10 + uint64_t(dim)), rev).permute({2, 1, 0});
    Shape xs_st = contiguous_strides(x.shape());
    const int64_t* st2[3] = {src.strides().data(), xs_st.data(), idx.strides().data()};
    k::LineLayout l2 = k::make_line_layout(3, ishape.data(), int(dim), st2);
    std::vector<float> out = x.to_vector<float>();
    const float* sp = src.data<float>();
    for (int64_t line = 0; line < k::line_count(l2); ++line) {
      int64_t off[3];
      k::line_offsets(l2, line, off);
      for (int64_t j = 0; j < l2.len; ++j) {
        const int64_t v = iv[size_t(off[2] + j * l2.dim_stride[2])];
        out[size_t(off[1] + v * l2.dim_stride[1])] += sp[off[0] + j * l2.dim_stride[0]];
      }
    }
    EXPECT_EQ(out, scatter_add(x, dim, idx, src).to_vector<float>()) << "scatter_add dim " << dim;
  }
}

TEST(CudaIndexingNoDevice, GpuTensorsThrowATypedErrorNamingOpAndDevice) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present: ops run instead of throwing";
  Tensor x = fake_cuda_tensor({4, 3});
  Tensor ids = ids_tensor({0, 2, 1}, {3});
  const std::vector<std::pair<std::string, std::function<void()>>> ops = {
      {"embedding", [&] { embedding(ids, x); }},
      {"index_select", [&] { index_select(x, 0, ids); }},
      {"gather", [&] { gather(x, 0, ids_tensor({0, 1, 2, 3, 0, 1}, {2, 3})); }},
      {"scatter_add", [&] { scatter_add(x, 0, ids_tensor({0, 1, 2}, {1, 3}), x); }},
      {"dropout", [&] { dropout(x, 0.5, true); }},
  };
  for (const auto& [name, run] : ops) expect_no_kernel_error(name, run);
}

// ---------------------------------------------------------------- GPU parity (skip without one)

TEST(CudaIndexing, EmbeddingParity) {
  REQUIRE_GPU();
  const int64_t V = 37;
  std::vector<int64_t> v = scrambled(3 * 41, V);
  v[0] = v[50] = v[77] = 5;  // the padding row appears
  Tensor ids = ids_tensor(v, {3, 41}), ids32 = ids.to(DType::i32);
  // D = 29: odd rows (4- / 2-byte words); 40: 16-byte words in every dtype; 6: 8-byte words in f32.
  for (const int64_t D : {29, 40, 6})
    check_all({
        {"embedding host ids D " + std::to_string(D), [=](auto& t) { return embedding(ids, t[0]); }, {{V, D}}},
        {"embedding device ids D " + std::to_string(D), [=](auto& t) { return embedding(on(ids, t[0]), t[0]); },
         {{V, D}}},
        {"embedding i32 ids padding_idx D " + std::to_string(D),
         [=](auto& t) { return embedding(on(ids32, t[0]), t[0], 5); }, {{V, D}}},
    });
}

TEST(CudaIndexing, RowGatherOfViewsOffTheWordBoundary) {
  REQUIRE_GPU();
  Generator gen(8);
  Tensor flat = randn({100}, DType::f32, gen), flat_dev = flat.to(Device::cuda());
  Tensor idx = ids_tensor({11, 0, 5, 5, 3, 7, 11}, {7});
  // Contiguous [12, 8] views 0, 4, 8 and 16 bytes in: 32-byte rows copied in 16-, 4-, 8- and
  // 16-byte words; a word wider than the base's alignment would fault or misplace rows.
  for (const int64_t start : {0, 1, 2, 4}) {
    Tensor x = flat.narrow(0, start, 96).reshape({12, 8}), xd = flat_dev.narrow(0, start, 96).reshape({12, 8});
    ASSERT_TRUE(xd.is_contiguous());  // a view: the kernel sees the offset base address
    ASSERT_EQ(static_cast<char*>(xd.raw_data()) - static_cast<char*>(flat_dev.raw_data()), start * 4);
    EXPECT_EQ(index_select(xd, 0, idx.to(Device::cuda())).to(Device::cpu()).to_vector<float>(),
              index_select(x, 0, idx).to_vector<float>())
        << "view " << start * 4 << " bytes in";
    EXPECT_EQ(embedding(idx, xd).to(Device::cpu()).to_vector<float>(), embedding(idx, x).to_vector<float>())
        << "view " << start * 4 << " bytes in";
  }
}

TEST(CudaIndexing, IndexSelectParity) {
  REQUIRE_GPU();
  Tensor i0 = ids_tensor({4, 0, 4, 2, 1, 4}, {6}), i1 = ids_tensor({6, 0, 6, 3, 6, 1, 2, 5}, {8}).to(DType::i32);
  Tensor i2 = ids_tensor(scrambled(13, 9), {13});
  check_all({
      {"index_select dim 0", [=](auto& t) { return index_select(t[0], 0, on(i0, t[0])); }, {{5, 7, 9}}},
      {"index_select dim 1 i32", [=](auto& t) { return index_select(t[0], 1, on(i1, t[0])); }, {{5, 7, 9}}},
      {"index_select last dim host index", [=](auto& t) { return index_select(t[0], -1, i2); }, {{4, 9}}},
  });
}

TEST(CudaIndexing, GatherParity) {
  REQUIRE_GPU();
  Tensor g1 = ids_tensor(scrambled(24, 9), {6, 4}), g0 = ids_tensor(scrambled(27, 6), {3, 9});
  Tensor g3 = ids_tensor(scrambled(105, 5), {3, 7, 5});
  check_all({
      {"gather dim 1", [=](auto& t) { return gather(t[0], 1, on(g1, t[0])); }, {{6, 9}}},
      {"gather dim 0", [=](auto& t) { return gather(t[0], 0, on(g0, t[0])); }, {{6, 9}}},
      {"gather 3-d dim 1", [=](auto& t) { return gather(t[0], 1, on(g3, t[0])); }, {{4, 5, 6}}},
  });
}

TEST(CudaIndexing, ScatterAddParity) {
  REQUIRE_GPU();
  Tensor s1 = ids_tensor(scrambled(24, 8), {4, 6}), s0 = ids_tensor(scrambled(56, 5), {7, 8});
  check_all({
      {"scatter_add dim 1 (src beyond index)", [=](auto& t) { return scatter_add(t[0], 1, on(s1, t[0]), t[1]); },
       {{5, 8}, {4, 9}}},
      {"scatter_add dim 0", [=](auto& t) { return scatter_add(t[0], 0, on(s0, t[0]), t[1]); }, {{5, 8}, {7, 8}}},
  });
}

TEST(CudaIndexing, BackwardScattersAreDeterministicAndEqualTheCpuInF32) {
  REQUIRE_GPU();
  Generator gen(3);
  const int64_t V = 50, D = 129;
  Tensor ids = ids_tensor(scrambled(4096, V), {8, 512});  // ~82 contributions per row
  Tensor w = randn({V, D}, DType::f32, gen), cot = randn({8, 512, D}, DType::f32, gen);
  Tensor x = randn({64, 33}, DType::f32, gen), gidx = ids_tensor(scrambled(6400, 33), {64, 100});
  Tensor gcot = randn({64, 100}, DType::f32, gen);
  auto run = [&](Device dev) {
    Tensor wl = w.to(dev).detach().requires_grad_(), xl = x.to(dev).detach().requires_grad_();
    embedding(on(ids, wl), wl).backward(cot.to(dev));
    gather(xl, 1, on(gidx, xl)).backward(gcot.to(dev));
    Tensor sa = scatter_add(x.to(dev), 1, on(gidx.narrow(1, 0, 33), xl), gcot.to(dev).narrow(1, 0, 33));
    return std::vector<std::vector<float>>{wl.grad().to(Device::cpu()).to_vector<float>(),
                                          xl.grad().to(Device::cpu()).to_vector<float>(),
                                          sa.to(Device::cpu()).to_vector<float>()};
  };
  auto first = run(Device::cuda()), second = run(Device::cuda()), cpu = run(Device::cpu());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i], second[i]) << "result " << i << " differs between two GPU runs";
    EXPECT_EQ(first[i], cpu[i]) << "result " << i << " differs from the CPU's (same f32 summation order)";
  }
}

TEST(CudaIndexing, RowMaskedEmbeddingWritesOnlyTheCompactGradient) {
  REQUIRE_GPU();
  Generator gen(4);
  const int64_t V = 40, D = 17;
  Tensor ids = ids_tensor(scrambled(200, V), {10, 20}), cot = randn({10, 20, D}, DType::f32, gen);
  Tensor w = randn({V, D}, DType::f32, gen).requires_grad_();
  Tensor wd = w.detach().to(Device::cuda()).requires_grad_();
  set_row_mask(w, {39, 2, 7, 31});
  set_row_mask(wd, {39, 2, 7, 31});
  embedding(ids, w, 7).backward(cot);
  embedding(ids.to(Device::cuda()), wd, 7).backward(cot.to(Device::cuda()));
  ASSERT_EQ(wd.grad().shape(), (Shape{4, D}));
  EXPECT_EQ(wd.grad().device(), Device::cuda());
  EXPECT_EQ(wd.grad().to(Device::cpu()).to_vector<float>(), w.grad().to_vector<float>());
}

TEST(CudaIndexing, DropoutMaskAndGradientEqualTheCpuForEveryDtype) {
  REQUIRE_GPU();
  for (DType dt : {DType::f32, DType::bf16, DType::f16})
    for (bool transposed : {false, true}) {
      auto [ref, dev] = make_leaf({37, 53}, dt, transposed, false, 11);
      Tensor x_cpu = ref.detach().to(dt).requires_grad_();  // the CPU computes half types in f32 too
      Generator gc(2024), gd(2024);
      gc.set_state(2024, 1000), gd.set_state(2024, 1000);
      for (int call = 0; call < 2; ++call) {  // the second call draws at the advanced offset
        Tensor yc = dropout(x_cpu, 0.3, true, gc), yd = dropout(dev, 0.3, true, gd);
        ASSERT_EQ(yd.device(), Device::cuda());
        ASSERT_EQ(yd.dtype(), dt);
        EXPECT_EQ(yd.to(Device::cpu()).to(DType::f32).to_vector<float>(), yc.to(DType::f32).to_vector<float>())
            << dtype_name(dt) << (transposed ? " transposed" : "") << " call " << call;
        sum(yc).backward();
        sum(yd).backward();
      }
      EXPECT_EQ(gc.offset(), gd.offset());
      EXPECT_EQ(dev.grad().to(Device::cpu()).to(DType::f32).to_vector<float>(),
                x_cpu.grad().to(DType::f32).to_vector<float>())
          << dtype_name(dt) << (transposed ? " transposed" : "");
    }
}

TEST(CudaIndexing, ErrorsAreTyped) {
  REQUIRE_GPU();
  Tensor w = ones({5, 3}).to(Device::cuda());
  Tensor bad = ids_tensor({1, 7, 2}, {3});
  for (const Tensor& ids : {bad, bad.to(Device::cuda()), bad.to(DType::i32).to(Device::cuda())}) {
    try {
      embedding(ids, w);
      ADD_FAILURE() << "no error for id 7";
    } catch (const IndexError& e) {
      EXPECT_NE(std::string(e.what()).find("[embedding] id 7 out of range for vocabulary size 5"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(index_select(w, 0, ids_tensor({-1}, {1}).to(Device::cuda())), IndexError);
  EXPECT_THROW(gather(w, 1, ids_tensor({0, 3}, {1, 2}).to(Device::cuda())), IndexError);
  Tensor w64 = w.to(DType::f64);
  EXPECT_THROW(embedding(ids_tensor({1}, {1}), w64), DTypeError);  // f64 is CPU-only
  EXPECT_THROW(index_select(w64, 0, ids_tensor({1}, {1})), DTypeError);
  EXPECT_THROW(gather(w64, 0, ids_tensor({1}, {1, 1})), DTypeError);
  EXPECT_THROW(dropout(w64, 0.5, true), DTypeError);
  EXPECT_THROW(scatter_add(w64, 0, ids_tensor({1}, {1, 1}), w64), DTypeError);
  Tensor wi = w.to(DType::i32);
  EXPECT_THROW(scatter_add(wi, 0, ids_tensor({1}, {1, 1}), wi), DTypeError);  // GPU sums take float types
  EXPECT_THROW(embedding(bad.to(Device::cuda()), ones({5, 3})), NoKernelError);  // GPU ids, CPU weight
}
