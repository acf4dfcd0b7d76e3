// Conversions between dtypes and devices (differentiable: the gradient converts back).
#pragma once
#include "engine/core/tensor.h"

namespace engine {

Tensor to_dtype(const Tensor& x, DType dtype);    // x itself when the dtype already matches
Tensor to_device(const Tensor& x, Device device);  // x itself when already there

}  // namespace engine
