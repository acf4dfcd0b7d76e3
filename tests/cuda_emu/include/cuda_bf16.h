// Emulated <cuda_bf16.h> for tests/cuda_emu: __nv_bfloat16 is the engine's CPU bf16 (round to
// nearest even on conversion, as the device intrinsics); no bf16 arithmetic operators.
#pragma once
#include "cuda_runtime.h"
#include "engine/core/dtype.h"
using __nv_bfloat16 = engine::bf16;
inline float __bfloat162float(engine::bf16 v) { return float(v); }
inline engine::bf16 __float2bfloat16_rn(float v) { return engine::bf16(v); }
inline engine::bf16 __float2bfloat16(float v) { return engine::bf16(v); }
