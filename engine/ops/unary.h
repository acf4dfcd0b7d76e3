// Elementwise unary ops (activations and math functions), each with its vjp.
#pragma once
#include "engine/core/tensor.h"

namespace engine {

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);       // exact: x·Φ(x) with erf (torch's default, BERT's "gelu")
Tensor gelu_tanh(const Tensor& x);  // tanh approximation (GPT-2's "gelu_new")
Tensor silu(const Tensor& x);       // x·sigmoid(x), a.k.a. swish

}  // namespace engine
