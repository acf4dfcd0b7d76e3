// LoRA's random initialisations (see init.h).
#include "peft/methods/lora/init.h"

#include <cmath>

#include "engine/engine.h"

namespace peft::lora {

engine::Generator init_generator(const std::string& key, const Tensor& t) {
  return engine::Generator(std::hash<std::string>{}(key) ^ static_cast<uint64_t>(t.numel()) * 0x9e3779b97f4a7c15ULL);
}

void random_init(TunerLayer& layer, const std::string& adapter) {
  engine::NoGradGuard no_grad;
  auto tensors = layer.adapter_tensors(adapter);
  auto* linear = dynamic_cast<LoraLinear*>(&layer);
  if (!linear) {  // PEFT's embedding A and B both start N(0, 1) before the zero init of A
    for (auto& [suffix, t] : tensors) {
      engine::Generator gen = init_generator(adapter + suffix, t);
      engine::copy_(t, engine::randn(t.shape(), t.dtype(), gen));
    }
    return;
  }
  // PEFT (init_lora_weights=False) keeps nn.Linear's init for B too: U(±1/√r) for its weight
  // and bias; A keeps its Kaiming init; DoRA's magnitude is then ||W + s·B·A||.
  const double bound = 1.0 / std::sqrt(static_cast<double>(linear->settings(adapter).r));
  for (auto& [suffix, t] : tensors) {
    if (suffix.rfind("lora_B", 0) != 0) continue;
    engine::Generator gen = init_generator(adapter + suffix, t);
    engine::copy_(t, engine::uniform(t.shape(), -bound, bound, t.dtype(), gen));
  }
  if (linear->settings(adapter).use_dora) linear->reset_dora_magnitude(adapter);
}

void gaussian_init(LoraLinear& layer, const std::string& adapter) {
  engine::NoGradGuard no_grad;
  Tensor& a = layer.lora_A(adapter);
  engine::Generator gen = init_generator(adapter, a);
  engine::copy_(a, engine::normal(a.shape(), 0.0, 1.0 / static_cast<double>(layer.settings(adapter).r), a.dtype(), gen));
  engine::fill_(layer.lora_B(adapter), 0.0);
}

}  // namespace peft::lora
