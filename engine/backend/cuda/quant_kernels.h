// Launch wrappers of the QLoRA dequantization kernels (quant.cu) and the per-element decode
// they share with the CPU tests (__host__ __device__). Formats as engine/quant/quantized.h:
// NF4 with double-quantized block absmax (â_b = m + c_b·(s_g/127), w = code[q]·â_b) and
// int8 row-wise (w = q·s_r). Every step is one correctly rounded f32 operation in the CPU's
// order (rn_math.h), so the GPU's f32 output equals engine::quant::dequantize bit for bit.
// A plain C++17 header over raw device pointers; all launches go to stream 0.
#pragma once
#include <cstdint>

#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/rn_math.h"

namespace engine::cuda::kernels {

// bitsandbytes' NF4 code values: the same literals as engine::quant::kNF4 (a CPU test checks
// that they agree); a macro so that quant.cu can put them in __constant__ memory.
#define ENGINE_NF4_CODE_VALUES                                                                      \
  -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f, \
      -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, \
      0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,       \
      0.7229568362236328f, 1.0f
inline constexpr float kNF4Codes[16] = {ENGINE_NF4_CODE_VALUES};

inline constexpr int64_t kNF4BlockValues = 64;   // values per absmax block
inline constexpr int64_t kNF4GroupBlocks = 256;  // blocks per double-quantization group

// â_b of a block from the tensor's offset m, its int8 code and its group's scale.
ENGINE_HD float nf4_block_absmax(float m, int8_t code, float group_scale) {
  return rn::add(m, rn::mul(float(code), rn::div(group_scale, 127.0f)));
}

// Element e (flat, row-major) of an NF4 weight: byte e/2 holds it in the high nibble when e is
// even (bitsandbytes' packing). `table` is the 16 code values.
ENGINE_HD float nf4_value(const float* table, const uint8_t* codes, const int8_t* absmax_codes,
                          const float* group_scales, float offset, int64_t e) {
  const int64_t block = e / kNF4BlockValues;
  const float absmax = nf4_block_absmax(offset, absmax_codes[block], group_scales[block / kNF4GroupBlocks]);
  const uint8_t byte = codes[e / 2];
  return rn::mul(table[(e & 1) ? (byte & 0xF) : (byte >> 4)], absmax);
}

// Element (r, c) of an int8 weight with `in` columns.
ENGINE_HD float int8_value(const int8_t* codes, const float* row_scales, int64_t in, int64_t r, int64_t c) {
  return rn::mul(float(codes[r * in + c]), row_scales[r]);
}

// out [r1 − r0, in] (dtype code out_dt: f32/bf16/f16, contiguous) = rows [r0, r1) of the
// dequantized [out, in] weight. NF4 needs in % 64 == 0 (whole blocks per row).
void dequantize_nf4(const uint8_t* codes, const int8_t* absmax_codes, const float* group_scales, float offset,
                    int64_t r0, int64_t r1, int64_t in, void* out, int out_dt);
void dequantize_int8(const int8_t* codes, const float* row_scales, int64_t r0, int64_t r1, int64_t in, void* out,
                     int out_dt);

}  // namespace engine::cuda::kernels
