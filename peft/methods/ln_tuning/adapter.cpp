// LN tuning injection (see adapter.h).
#include "peft/methods/ln_tuning/adapter.h"

#include "engine/engine.h"
#include "peft/core/modules_to_save.h"
#include "peft/methods/ln_tuning/layer.h"

namespace peft::ln_tuning {

// PEFT deep-copies whatever module matches; here any one-input layer that is not another
// method's wrapper (cloning then names the type when it cannot be copied).
bool LnTuningAdapter::accepts(const engine::nn::Module& m) const {
  if (dynamic_cast<const LnTuningLayer*>(&m)) return true;
  return dynamic_cast<const engine::nn::UnaryModule*>(&m) != nullptr && dynamic_cast<const TunerLayer*>(&m) == nullptr &&
         dynamic_cast<const ModulesToSave*>(&m) == nullptr;
}

std::shared_ptr<TunerLayer> LnTuningAdapter::add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                                    engine::Generator& gen) {
  (void)path, (void)gen;
  auto layer = std::dynamic_pointer_cast<LnTuningLayer>(module);
  if (!layer) layer = std::make_shared<LnTuningLayer>(module);
  layer->add_adapter(name());
  return layer;
}

}  // namespace peft::ln_tuning
