// LoRA's initialisations besides the default (Kaiming-uniform A, zero B, in layer.cpp), and
// the choice of base layer (full precision or QLoRA-quantized).
//
//  - gaussian: A ~ N(0, 1/r), B = 0.
//  - false (random): B also drawn, so the adapter changes outputs from the start (tests).
//  - PiSSA (Meng et al. 2024): W = U S Vᵀ; A = √S_r V_rᵀ, B = U_r √S_r (S divided by the
//    scaling first), and W ← W − s·B·A so the model output is unchanged at the start.
//    "pissa_niter_<k>": the same from a randomized SVD with k subspace iterations.
//  - OLoRA (Büyükakyüz 2024): W = Q R; B = Q[:, :r], A = R[:r, :], W ← W − s·B·A.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "peft/methods/lora/layer.h"

namespace peft::lora {

// A LoraLinear over `base`; quantize "nf4"/"int8" first replaces the base weight by a frozen
// quantized copy (QLoRA).
std::shared_ptr<TunerLayer> make_lora_linear(const engine::nn::ModulePtr& base, const std::string& quantize);

void random_init(TunerLayer& layer, const std::string& adapter);
void gaussian_init(LoraLinear& layer, const std::string& adapter);
void pissa_init(LoraLinear& layer, const std::string& adapter, const std::string& mode);
void olora_init(LoraLinear& layer, const std::string& adapter);

}  // namespace peft::lora
