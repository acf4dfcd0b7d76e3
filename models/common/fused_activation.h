// A feed-forward layer's first projection and its activation, fused where the GPU can: the
// GPT-2 MLP (c_fc + gelu_new) and T5's FFN (wi / gated wi_0 + gelu_new) share it.
#pragma once
#include <string>

#include "engine/core/tensor.h"
#include "engine/nn/module.h"

namespace models::common {

// The HF activation names that engine::nn::activation maps to gelu_tanh (GPT-2's gelu_new).
bool is_tanh_gelu(const std::string& act);

// act(parent.call(name, x)). When act is a tanh GELU and the child is exactly an nn::Linear,
// it runs as engine::linear_gelu_tanh: one cuBLASLt GEMM with a GELU epilogue on a GPU, the
// same composite (bit for bit) on the CPU. A PEFT-wrapped child (LoRA on all-linear, IA³, ...)
// must run its own forward, so it keeps the composite. Linear has no hooks of its own, so
// nothing between the projection and the activation is skipped. Only the tanh GELU fuses:
// cuBLASLt's GELU epilogue is the tanh approximation (BERT's erf "gelu" cannot use it), and
// relu stays unfused (cuBLASLt's RELU_AUX saves a bit-mask, which the relu vjp does not take).
engine::Tensor call_with_activation(const engine::nn::Module& parent, const std::string& name, const std::string& act,
                                    const engine::Tensor& x);

}  // namespace models::common
