// Quantized frozen weights for QLoRA: the base model's Linear weights stored in 4-bit NF4 (with
// double-quantized scales) or 8-bit int8, and the op that multiplies by them without ever
// materialising the f32 weight.
//
// A QuantizedWeight is the frozen weight of a Linear with logical shape [out, in] (torch
// layout; a GPT-2 Conv1D weight [in, out] is transposed first: pass WeightLayout::in_out).
//
// NF4 (QLoRA, Dettmers et al. 2023; bitsandbytes' `quant_type="nf4"`):
//   The flat row-major weight is cut into blocks of 64 consecutive values (along `in`, so
//   in % 64 == 0). Block b has absmax a_b = max|w| and each value w is stored as the 4-bit
//   index q of the NF4 code value nearest to w / a_b (table kNF4 below, bitsandbytes'
//   exact values; a value exactly on a midpoint takes the lower code, as bitsandbytes does).
//     w ≈ kNF4[q] · â_b
//   Double quantization stores the absmax themselves in 8 bits: with m = mean_b a_b (one f32
//   per tensor) and groups of 256 consecutive blocks, each group g keeps s_g = max|a_b − m|
//   (f32) and each block a symmetric linear int8 code c_b = round(127 (a_b − m) / s_g), so
//     â_b = m + c_b · s_g / 127,   |â_b − a_b| ≤ s_g / 254,
//   which is within a_b / 127 (relative) whenever max_g |a − m| ≤ 2 a_b, i.e. for absmax that
//   vary by less than about 3x, as in trained transformer layers; a block far smaller than its
//   group's others gets a coarse scale (the price of one 8-bit code per 64 values).
//   (bitsandbytes codes the absmax with its 8-bit *dynamic* map; we use plain symmetric
//   linear int8, which is simpler and as accurate for absmax values that cluster near m.)
//   Storage:  codes  u8 [out·in/2]       two indices a byte, the even element in the high
//                                         nibble (bitsandbytes' packing)
//             absmax_codes i8 [out·in/64] c_b
//             scales f32 [⌈blocks/256⌉]  s_g
//             offset f32                  m
//   = 4 + 8/64 + 32/(64·256) ≈ 4.127 bits per parameter (+32 bits per tensor).
//
// int8 (LLM.int8()'s row-wise absmax quantization, Dettmers et al. 2022, WITHOUT its outlier
// decomposition: every column is quantized, none is kept in f16):
//   row r has scale s_r = max_j |w_rj| / 127 and w_rj ≈ q_rj · s_r with q_rj = round(w_rj / s_r)
//   in [−127, 127], so |w − ŵ| ≤ s_r / 2 = absmax_r / 254.
//   Storage: codes i8 [out·in], scales f32 [out]  = 8 + 32/in bits per parameter.
//
// quantized_linear(x, W, b) = x · Ŵᵀ + b where Ŵ = dequantize(W). Ŵ is frozen, so the
// backward computes only dx = gy · Ŵ (and db) and saves no tensor: it keeps the handle to W.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/core/tensor.h"
#include "engine/ops/linalg.h"

namespace engine::quant {

enum class QuantFormat { nf4, int8 };

const char* format_name(QuantFormat f);      // "nf4", "int8"
QuantFormat parse_format(const std::string& name);  // ValueError listing the formats

inline constexpr int64_t kNF4Block = 64;        // values per absmax block
inline constexpr int64_t kNF4ScaleGroup = 256;  // blocks per double-quantization group

// bitsandbytes' NF4 code values (quantiles of N(0,1) normalised to [-1, 1], with an exact 0).
inline constexpr std::array<float, 16> kNF4 = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236328f, 1.0f};

// The index of the NF4 code nearest to v (v in [-1, 1]); ties go to the lower code.
int nf4_index(float v);

// A frozen quantized [out, in] weight. A cheap handle: copies share the (immutable) storage.
class QuantizedWeight {
 public:
  QuantizedWeight() = default;
  bool defined() const { return p_ != nullptr; }
  QuantFormat format() const;
  int64_t out_features() const;
  int64_t in_features() const;
  Shape shape() const { return {out_features(), in_features()}; }
  int64_t numel() const { return out_features() * in_features(); }
  int64_t bytes() const;              // exact storage bytes (codes + scales + offset)
  double bits_per_parameter() const;  // 8 · bytes() / numel()

  // The stored parts (layout above), for kernels, tests and serialisation.
  std::span<const uint8_t> codes() const;        // nf4: u8 packed pairs; int8: the i8 bytes
  std::span<const int8_t> absmax_codes() const;  // nf4: c_b; int8: empty
  std::span<const float> scales() const;         // nf4: s_g per group; int8: s_r per row
  float offset() const;                          // nf4: m; int8: 0
  // nf4: the dequantized block absmax â_b, f32 [out·in/64]; int8: the row scales, f32 [out].
  Tensor block_scales() const;

  // GPU residency. The parts above stay on the host; a GPU copy of them is uploaded once per
  // device (on the first quantized_linear / dequantize of a GPU input, or by to()) and kept
  // with the weight, so every handle sharing the storage reuses it.
  struct DeviceParts {
    Tensor codes;         // the bytes of codes() (i32 words, byte-addressed by kernels)
    Tensor absmax_codes;  // nf4: the bytes of absmax_codes(); int8: undefined
    Tensor scales;        // f32, as scales()
  };
  const DeviceParts& device_parts(Device device) const;  // uploads on first call; thread-safe
  QuantizedWeight to(Device device) const;  // uploads (GPU) and returns a handle to the same weight

  struct Parts;  // the storage, defined in quantize.cpp
  explicit QuantizedWeight(std::shared_ptr<const Parts> p) : p_(std::move(p)) {}

 private:
  const Parts& parts() const;
  std::shared_ptr<const Parts> p_;
};

// Quantizes a floating 2-d weight (any float dtype; [out, in] or, for in_out, [in, out]).
// NF4 needs in % 64 == 0 (ShapeError naming the shape otherwise).
QuantizedWeight quantize_nf4(const Tensor& w, WeightLayout layout = WeightLayout::out_in);
QuantizedWeight quantize_int8(const Tensor& w, WeightLayout layout = WeightLayout::out_in);
QuantizedWeight quantize(const Tensor& w, QuantFormat format,
                         WeightLayout layout = WeightLayout::out_in);

// The f32 [out, in] weight the quantized one stands for (what quantized_linear multiplies by).
Tensor dequantize(const QuantizedWeight& w);

// y [..., out] = x [..., in] · Ŵᵀ + bias, computed by tiles of Ŵ dequantized (SIMD) into a small
// cache-resident buffer and multiplied with sgemm, in parallel over tiles. x of any floating
// dtype: computed in f32, returned in x's dtype (promoted with bias's). Autograd: dx and db
// only (counted as "quantized_linear.dx" / "quantized_linear.db"); nothing is saved.
Tensor quantized_linear(const Tensor& x, const QuantizedWeight& w, const Tensor& bias = {});

}  // namespace engine::quant
