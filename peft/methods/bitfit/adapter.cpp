// BitFit: the modules that target_modules selects (default: all) train their `bias`.
#include "peft/methods/bitfit/adapter.h"

#include "engine/engine.h"
#include "peft/core/targets.h"

namespace peft::bitfit {

namespace {

bool has_bias(const engine::nn::Module& m) {
  for (const auto& [name, t] : m.own_parameters())
    if (name == "bias" && t.defined()) return true;
  return false;
}

}  // namespace

void BitFitAdapter::choose(models::PretrainedModel& model, uint64_t seed) {
  (void)seed;
  TunerConfig c = static_cast<const TunerConfig&>(config());
  if (!c.target_modules.is_set()) {  // every module that has a bias
    c.target_modules.kind = ModuleSelector::Kind::regex;
    c.target_modules.regex = ".*";
  }
  for (const std::string& path : select_targets(model, c, model.model_type(), has_bias))
    train_whole(path + ".bias", model.get(path)->param("bias"));
}

}  // namespace peft::bitfit
