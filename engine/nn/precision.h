// Mixed-precision storage for a module: frozen weights in bf16 (or f16), trainable ones kept
// as f32 master copies. PEFT freezes most of a model; storing the frozen part in bf16 halves
// its memory and, under autocast (ops/autocast.h), spares the per-forward cast of every frozen
// weight, while the optimizer still updates f32 trainable parameters with f32 gradients.
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"
#include "engine/nn/module.h"

namespace engine::nn {

struct CastReport {
  int64_t tensors = 0;  // frozen parameters converted
  int64_t numel = 0;    // their elements
};

// Converts every frozen (requires_grad false) f32 parameter of `m`'s subtree to `dtype`
// (bf16 or f16, else ValueError), in place: the parameter's tensor object itself changes
// storage and dtype, so tied weights and every holder of the handle see the new dtype.
// Trainable parameters, f64 ones, integer ones (quantized storage) and buffers are left
// alone. Parameters already in `dtype` are not counted. Run it once, after freezing.
CastReport cast_frozen_parameters(Module& m, DType dtype = DType::bf16);

}  // namespace engine::nn
