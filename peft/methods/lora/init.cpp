// LoRA's random initialisations (see init.h).
#include "peft/methods/lora/init.h"

#include <cmath>

#include "engine/engine.h"

namespace peft::lora {

namespace {
// Each re-initialisation draws from a stream keyed by the adapter name, so results do not depend
// on the order in which layers were created.
engine::Generator generator_for(const std::string& adapter, const Tensor& t) {
  return engine::Generator(std::hash<std::string>{}(adapter) ^ static_cast<uint64_t>(t.numel()) * 0x9e3779b97f4a7c15ULL);
}
}  // namespace

void random_init(TunerLayer& layer, const std::string& adapter) {
  engine::NoGradGuard no_grad;
  for (auto& [suffix, t] : layer.adapter_tensors(adapter)) {
    engine::Generator gen = generator_for(adapter + suffix, t);
    engine::copy_(t, engine::normal(t.shape(), 0.0, 0.1, t.dtype(), gen));
  }
}

void gaussian_init(LoraLinear& layer, const std::string& adapter) {
  engine::NoGradGuard no_grad;
  Tensor& a = layer.lora_A(adapter);
  engine::Generator gen = generator_for(adapter, a);
  engine::copy_(a, engine::normal(a.shape(), 0.0, 1.0 / static_cast<double>(layer.settings(adapter).r), a.dtype(), gen));
  engine::fill_(layer.lora_B(adapter), 0.0);
}

}  // namespace peft::lora
