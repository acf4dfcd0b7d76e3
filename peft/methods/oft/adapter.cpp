// OFT injection (see adapter.h).
#include "peft/methods/oft/adapter.h"

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/oft/layer.h"

namespace peft::oft {

bool OftAdapter::accepts(const engine::nn::Module& m) const {
  return is_linear(m) || dynamic_cast<const OftLinear*>(&m) != nullptr;
}

std::shared_ptr<TunerLayer> OftAdapter::add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                               engine::Generator& gen) {
  const OftConfig& c = oft_config();
  OftSettings s;
  s.r = c.rank_for(path);
  s.module_dropout = c.module_dropout;
  s.coft = c.coft;
  s.eps = c.eps;
  s.block_share = c.block_share;
  s.init_weights = c.init_weights;
  auto layer = std::dynamic_pointer_cast<OftLinear>(module);
  if (!layer) layer = std::make_shared<OftLinear>(module);
  layer->add_adapter(name(), s, gen);
  return layer;
}

}  // namespace peft::oft
