// SIMD dequantization loops (Highway dynamic dispatch: this file is compiled once per target
// via foreach_target.h and the best one is picked at run time), and dequantize_tile on top.
//
// NF4: N packed bytes at a time are widened to N u32 lanes; their high and low nibbles are
// the indices of 2N consecutive values (even element in the high nibble), looked up in the
// 16-entry code table with in-register permutes (one on AVX-512, where the table is one
// vector; 16/N and a select per piece on narrower targets — faster than a gather), scaled by
// the block's absmax and written interleaved.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/quant/dequant_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "engine/quant/dequant_tile.h"

HWY_BEFORE_NAMESPACE();
namespace engine::quant::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// kNF4[idx] for N lanes of indices in [0, 16).
template <class D, class VI>
hn::Vec<D> LookupNF4(D d, VI idx) {
  const hn::RebindToSigned<D> di;
  const size_t N = hn::Lanes(d);
  const auto lane = hn::IndicesFromVec(d, hn::And(idx, hn::Set(di, int32_t(N - 1))));
  auto r = hn::TableLookupLanes(hn::LoadU(d, kNF4.data()), lane);
  for (size_t k = N; k < kNF4.size(); k += N) {  // the table's further pieces, if N < 16
    const auto in_piece = hn::RebindMask(d, hn::Gt(idx, hn::Set(di, int32_t(k) - 1)));
    r = hn::IfThenElse(in_piece, hn::TableLookupLanes(hn::LoadU(d, kNF4.data() + k), lane), r);
  }
  return r;
}

void DequantNF4(const uint8_t* packed, const float* scale, size_t nblocks, float* out) {
  // At most 16 lanes, so that a lane count always divides a block's 32 bytes.
  const hn::CappedTag<float, 16> d;
  const hn::Rebind<uint8_t, decltype(d)> d8;
  const hn::Rebind<uint32_t, decltype(d)> du;
  const hn::Rebind<int32_t, decltype(d)> di;
  const size_t N = hn::Lanes(d);
  const auto low = hn::Set(du, 0xFu);
  for (size_t b = 0; b < nblocks; ++b, packed += kNF4Block / 2, out += kNF4Block) {
    const auto s = hn::Set(d, scale[b]);
    for (size_t i = 0; i < size_t(kNF4Block / 2); i += N) {
      const auto bytes = hn::PromoteTo(du, hn::LoadU(d8, packed + i));  // N bytes -> N u32
      const auto hi = hn::BitCast(di, hn::ShiftRight<4>(bytes));         // elements 2i, 2i+2, ...
      const auto lo = hn::BitCast(di, hn::And(bytes, low));              // elements 2i+1, ...
      const auto even = hn::Mul(LookupNF4(d, hi), s);
      const auto odd = hn::Mul(LookupNF4(d, lo), s);
      hn::StoreInterleaved2(even, odd, d, out + 2 * i);
    }
  }
}

void DequantInt8(const int8_t* q, float scale, size_t n, float* out) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<int8_t, decltype(d)> d8;
  const hn::Rebind<int32_t, decltype(d)> di;
  const size_t N = hn::Lanes(d);
  const auto s = hn::Set(d, scale);
  size_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::Mul(hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, q + i))), s), d, out + i);
  for (; i < n; ++i) out[i] = float(q[i]) * scale;
}

}  // namespace engine::quant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <vector>

namespace engine::quant {

HWY_EXPORT(DequantNF4);
HWY_EXPORT(DequantInt8);

namespace simd {
void dequant_nf4(const uint8_t* packed, const float* scale, int64_t nblocks, float* out) {
  HWY_DYNAMIC_DISPATCH(DequantNF4)(packed, scale, size_t(nblocks), out);
}
void dequant_int8(const int8_t* q, float scale, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DequantInt8)(q, scale, size_t(n), out);
}
}  // namespace simd

namespace {

// One row segment of NF4: its block absmax are double-dequantized first (â = m + c·s/127).
void nf4_rows(const QuantizedWeight& w, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
              float* out, int64_t ld) {
  const int64_t in = w.in_features(), nblocks = (c1 - c0) / kNF4Block;
  const auto codes = w.codes();
  const auto acodes = w.absmax_codes();
  const auto gscale = w.scales();
  const float m = w.offset();
  std::vector<float> scale(static_cast<size_t>(nblocks));
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t first = (r * in + c0) / kNF4Block;  // flat index of the row segment's block 0
    for (int64_t b = 0; b < nblocks; ++b) {
      const auto blk = size_t(first + b);
      scale[size_t(b)] = nf4_absmax(m, acodes[blk], gscale[blk / kNF4ScaleGroup]);
    }
    simd::dequant_nf4(codes.data() + (r * in + c0) / 2, scale.data(), nblocks, out + (r - r0) * ld);
  }
}

}  // namespace

void dequantize_tile(const QuantizedWeight& w, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                     float* out, int64_t ld) {
  if (w.format() == QuantFormat::nf4) return nf4_rows(w, r0, r1, c0, c1, out, ld);
  const int64_t in = w.in_features();
  const auto* q = reinterpret_cast<const int8_t*>(w.codes().data());
  const auto scales = w.scales();
  for (int64_t r = r0; r < r1; ++r)
    simd::dequant_int8(q + r * in + c0, scales[size_t(r)], c1 - c0, out + (r - r0) * ld);
}

}  // namespace engine::quant
#endif  // HWY_ONCE
