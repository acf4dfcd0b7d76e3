// quant.cu under emulation (NF4 double-quantized and int8 dequantize tiles) vs the CPU's
// dequant_nf4 / dequant_int8 (engine/quant/dequant_tile.h), bit for bit.
#include "emu_test.h"
#include "engine/backend/cuda/quant_kernels.h"
#include "engine/quant/dequant_tile.h"

namespace {

template <typename T>
void test_nf4(int64_t rows, int64_t in, int64_t r0, int64_t r1) {
  const int64_t total = rows * in, blocks = total / 64, groups = (blocks + 255) / 256;
  std::vector<uint8_t> codes((size_t)(total / 2));
  std::vector<int8_t> ac((size_t)blocks);
  std::vector<float> gs((size_t)groups);
  for (auto& c : codes) c = uint8_t(rng());
  for (auto& a : ac) a = int8_t(rng());
  std::uniform_real_distribution<float> ud(0.01f, 2.f);
  for (auto& g : gs) g = ud(rng);
  const float offset = 0.731f;
  Buf<T> out((size_t)((r1 - r0) * in), from_d<T>(NAN));
  K::dequantize_nf4(codes.data(), ac.data(), gs.data(), offset, r0, r1, in, out.data(), dt_of<T>());
  const int64_t b0 = r0 * in / 64, nb = (r1 - r0) * in / 64;
  std::vector<float> sc((size_t)nb), ref((size_t)((r1 - r0) * in));
  for (int64_t b = 0; b < nb; ++b) sc[size_t(b)] = engine::quant::nf4_absmax(offset, ac[size_t(b0 + b)], gs[size_t((b0 + b) / 256)]);
  if (nb) engine::quant::simd::dequant_nf4(codes.data() + r0 * in / 2, sc.data(), nb, ref.data());
  std::vector<double> got(ref.size()), want(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) got[i] = to_d(out[i]), want[i] = to_d(from_d<T>(ref[i]));
  check("nf4 rows " + std::to_string(r0) + ".." + std::to_string(r1) + " of " + std::to_string(rows) + "x" +
             std::to_string(in) + " " + dt_name<T>() + " (bit-exact)", got, want, 0);
}

template <typename T>
void test_int8(int64_t rows, int64_t in, int64_t r0, int64_t r1) {
  std::vector<int8_t> q((size_t)(rows * in));
  std::vector<float> s((size_t)rows);
  for (auto& v : q) v = int8_t(rng());
  std::uniform_real_distribution<float> ud(0.001f, 0.1f);
  for (auto& v : s) v = ud(rng);
  Buf<T> out((size_t)((r1 - r0) * in), from_d<T>(NAN));
  K::dequantize_int8(q.data(), s.data(), r0, r1, in, out.data(), dt_of<T>());
  std::vector<float> ref((size_t)((r1 - r0) * in));
  for (int64_t r = r0; r < r1; ++r) engine::quant::simd::dequant_int8(q.data() + r * in, s[size_t(r)], in, ref.data() + (r - r0) * in);
  std::vector<double> got(ref.size()), want(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) got[i] = to_d(out[i]), want[i] = to_d(from_d<T>(ref[i]));
  check("int8 rows " + std::to_string(r0) + ".." + std::to_string(r1) + " of " + std::to_string(rows) + "x" +
             std::to_string(in) + " " + dt_name<T>() + " (bit-exact)", got, want, 0);
}

template <typename T>
void all() {
  test_nf4<T>(600, 128, 37, 599);  // 1200 blocks, 5 double-quant groups, a tile from an odd row
  test_nf4<T>(3, 64, 0, 3);
  test_nf4<T>(5, 192, 4, 5);
  test_nf4<T>(5, 64, 2, 2);  // empty
  test_int8<T>(9, 37, 2, 9);
  test_int8<T>(300, 5, 0, 300);
  test_int8<T>(4, 3, 3, 3);
}

}  // namespace

using CudaEmuQuant = EmuTest;
TEST_F(CudaEmuQuant, DequantizeF32) { all<float>(); }
TEST_F(CudaEmuQuant, DequantizeBf16) { all<engine::bf16>(); }
TEST_F(CudaEmuQuant, DequantizeF16) { all<engine::f16>(); }
