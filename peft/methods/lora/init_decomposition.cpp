// PiSSA / OLoRA initialisations and the QLoRA base: being written (see init.h).
#include "engine/engine.h"
#include "peft/methods/lora/init.h"

namespace peft::lora {

std::shared_ptr<TunerLayer> make_lora_linear(const engine::nn::ModulePtr& base, const std::string& quantize) {
  engine::check<engine::ConfigError>(quantize.empty(), "[LORA] quantize_base='", quantize, "' is not available yet");
  return std::make_shared<LoraLinear>(base);
}

void pissa_init(LoraLinear&, const std::string&, const std::string& mode) {
  engine::fail<engine::ConfigError>("[LORA] init_lora_weights=", mode, " is not available yet");
}

void olora_init(LoraLinear&, const std::string&) {
  engine::fail<engine::ConfigError>("[LORA] init_lora_weights=olora is not available yet");
}

}  // namespace peft::lora
