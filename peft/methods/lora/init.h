// LoRA's initialisations besides the default (Kaiming-uniform A, zero B, in layer.cpp).
//
//  - gaussian: A ~ N(0, 1/r), B = 0.
//  - false: B keeps a random init too (PEFT: nn.Linear's), so the adapter changes outputs from
//    the start (tests); DoRA's magnitude is then ||W + s·B·A||.
//  - PiSSA (Meng et al. 2024): W = U S Vᵀ; A = √S_r V_rᵀ, B = U_r √S_r (S divided by the
//    scaling first), and W ← W − s·B·A so the model output is unchanged at the start.
//    "pissa_niter_<k>": the same from a randomized SVD with k subspace iterations.
//  - OLoRA (Büyükakyüz 2024): W = Q R; B = Q[:, :r], A = R[:r, :], W ← W − s·B·A.
// PiSSA and OLoRA change the base weights: an adapter trained from them only reproduces the
// fine-tuned model on the *modified* base (see README.md).
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "peft/methods/lora/layer.h"

namespace peft::lora {

// A random stream keyed by a name and a tensor size, so that a re-initialisation does not
// depend on the order in which layers were created.
engine::Generator init_generator(const std::string& key, const Tensor& t);

void random_init(TunerLayer& layer, const std::string& adapter);
void gaussian_init(LoraLinear& layer, const std::string& adapter);
void pissa_init(LoraLinear& layer, const std::string& adapter, const std::string& mode);
void olora_init(LoraLinear& layer, const std::string& adapter);

}  // namespace peft::lora
