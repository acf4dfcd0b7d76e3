// LoKr injection (see adapter.h).
#include "peft/methods/lokr/adapter.h"

#include "peft/methods/lokr/layer.h"

namespace peft::lokr {

bool LokrAdapter::is_own_layer(const engine::nn::Module& m) const { return dynamic_cast<const LokrLinear*>(&m) != nullptr; }

std::shared_ptr<lycoris::LycorisLayer> LokrAdapter::make_layer(const engine::nn::ModulePtr& base) const {
  return std::make_shared<LokrLinear>(base);
}

void LokrAdapter::add_factors(lycoris::LycorisLayer& layer, const std::string& path, const lycoris::LycorisSettings& s,
                              engine::Generator& gen) const {
  (void)path;
  const LokrConfig& c = lokr_config();
  const LokrShape shape = lokr_shape(layer.out_features(), layer.in_features(), s.r, c.decompose_both, c.decompose_factor);
  static_cast<LokrLinear&>(layer).add_adapter(name(), s, shape, c.init_weights, gen);
}

}  // namespace peft::lokr
