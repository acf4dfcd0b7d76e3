// LoHa injection (see adapter.h).
#include "peft/methods/loha/adapter.h"

#include "peft/methods/loha/layer.h"

namespace peft::loha {

bool LohaAdapter::is_own_layer(const engine::nn::Module& m) const { return dynamic_cast<const LohaLinear*>(&m) != nullptr; }

std::shared_ptr<lycoris::LycorisLayer> LohaAdapter::make_layer(const engine::nn::ModulePtr& base) const {
  return std::make_shared<LohaLinear>(base);
}

void LohaAdapter::add_factors(lycoris::LycorisLayer& layer, const std::string& path, const lycoris::LycorisSettings& s,
                              engine::Generator& gen) const {
  (void)path;
  static_cast<LohaLinear&>(layer).add_adapter(name(), s, lycoris_config().init_weights, gen);
}

}  // namespace peft::loha
