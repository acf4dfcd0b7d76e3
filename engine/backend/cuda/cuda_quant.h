// Tensor-level QLoRA entry points on a GPU (quant.cu + cuBLASLt through cuda_gemm.h): the
// upload of a QuantizedWeight's parts (called once per weight and device by
// QuantizedWeight::device_parts), dequantization of row ranges into a dense tile, and the two
// products quantized_linear needs, computed tile by tile (tiles of at most 2^24 values, so a
// large weight is never dense in full). Without ENGINE_CUDA every function throws
// NoKernelError (cuda_quant_stub.cpp).
#pragma once
#include "engine/core/tensor.h"
#include "engine/quant/quantized.h"

namespace engine::cuda {

// Copies w's host parts to `device` (codes as raw bytes in i32 words, scales as f32).
quant::QuantizedWeight::DeviceParts upload_quantized(const quant::QuantizedWeight& w, Device device);

// Rows [r0, r1) of the dequantized weight: contiguous [r1 − r0, in] of dtype dt (f32, bf16,
// f16) on `device`. In f32 it equals the CPU's quant::dequantize bit for bit.
Tensor dequantize_rows(const quant::QuantizedWeight& w, Device device, int64_t r0, int64_t r1,
                       DType dt = DType::f32);

// y [n, out] f32 = x [n, in] · Ŵᵀ (+ bias [out], any float dtype, in the GEMM's epilogue).
// x: contiguous f32, bf16 or f16 on a GPU; the tiles of Ŵ are dequantized in x's dtype, so
// half inputs run tensor-core GEMMs (f32 accumulation and output) and only Ŵ is rounded to
// the half type, as bitsandbytes does. Each tile GEMM counts as "quantized_linear".
Tensor quantized_matmul(const Tensor& x, const quant::QuantizedWeight& w, const Tensor& bias = {});
// dx [n, in] f32 = g [n, out] · Ŵ, g contiguous f32/bf16/f16 (tiles in g's dtype), tiles
// accumulated into dx in a fixed order. Each tile GEMM counts as "quantized_linear.dx".
Tensor quantized_matmul_t(const Tensor& g, const quant::QuantizedWeight& w);

}  // namespace engine::cuda
