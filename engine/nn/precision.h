// Mixed-precision storage for a module: frozen weights in bf16 (or f16), trainable ones kept
// as f32 master copies. PEFT freezes most of a model; storing the frozen part in bf16 halves
// its memory and, under autocast (ops/autocast.h), spares the per-forward cast of every frozen
// weight, while the optimizer still updates f32 trainable parameters with f32 gradients.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/nn/module.h"

namespace engine::nn {

struct CastReport {
  int64_t tensors = 0;  // frozen parameters converted
  int64_t numel = 0;    // their elements
};

// Converts every frozen (requires_grad false) f32 parameter of `m`'s subtree to `dtype`
// (bf16 or f16, else ValueError), in place (convert_in_place), so tied weights and every
// holder of the handle see the new dtype; their gradients are dropped. Trainable parameters,
// f64 ones, integer ones (quantized storage), buffers and parameters sharing storage with a
// tensor in `keep` (e.g. frozen adapter tensors that files must keep in f32) are left alone.
// Parameters already in `dtype` are not counted. Run it once, after freezing.
CastReport cast_frozen_parameters(Module& m, DType dtype = DType::bf16, const std::vector<Tensor>& keep = {});

// Gives `impl` its values converted to `dtype` (contiguous, fresh storage), changing the
// TensorImpl itself: every handle to it sees the new dtype. Its gradient is left as it is.
// A no-op for non-floating tensors and tensors already in `dtype`. No autograd.
void convert_in_place(TensorImpl& impl, DType dtype);

}  // namespace engine::nn
