// Emulated <cuda_fp16.h> for tests/cuda_emu: __half is the engine's CPU f16 (round to nearest
// even on conversion, as the device intrinsics); no half arithmetic operators.
#pragma once
#include "cuda_runtime.h"
#include "engine/core/dtype.h"
using __half = engine::f16;
inline float __half2float(engine::f16 v) { return float(v); }
inline engine::f16 __float2half_rn(float v) { return engine::f16(v); }
inline engine::f16 __float2half(float v) { return engine::f16(v); }
