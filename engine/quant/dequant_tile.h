// Dequantization of one tile of a QuantizedWeight into an f32 buffer: the building block of
// dequantize() and of quantized_linear's forward (row tiles) and backward (column tiles).
// The inner loops are Highway SIMD chosen at run time (dequant_simd.cpp).
#pragma once
#include <cstdint>

#include "engine/quant/quantized.h"

namespace engine::quant {

// out[(r - r0)·ld + (c - c0)] = Ŵ[r, c] for r in [r0, r1), c in [c0, c1). For NF4, c0 and c1
// are multiples of 64 (whole blocks). Single-threaded: callers parallelise over tiles.
void dequantize_tile(const QuantizedWeight& w, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                     float* out, int64_t ld);

// The double-dequantized absmax of an NF4 block: â = m + c·s/127 (one formula for every path).
inline float nf4_absmax(float m, int8_t code, float group_scale) {
  return m + float(code) * (group_scale / 127.0f);
}

namespace simd {
// nblocks consecutive NF4 blocks: packed holds their 32·nblocks bytes, scale[b] is â of block b;
// writes 64·nblocks floats.
void dequant_nf4(const uint8_t* packed, const float* scale, int64_t nblocks, float* out);
// n int8 values times one scale.
void dequant_int8(const int8_t* q, float scale, int64_t n, float* out);
}  // namespace simd

}  // namespace engine::quant
