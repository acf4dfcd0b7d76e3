// (IA)³ injection (see adapter.h).
#include "peft/methods/ia3/adapter.h"

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/ia3/layer.h"

namespace peft::ia3 {

bool Ia3Adapter::accepts(const engine::nn::Module& m) const {
  return is_linear(m) || dynamic_cast<const Ia3Linear*>(&m) != nullptr;
}

void Ia3Adapter::before_layers(models::PretrainedModel& model, const std::vector<std::string>& targets) {
  (void)model, (void)targets;
  feedforward_ = ia3_config().feedforward_modules;
  if (feedforward_.is_set()) return;
  const std::vector<std::string> defaults = default_feedforward_modules(model_type());
  engine::check<engine::ConfigError>(!defaults.empty(), "[IA3] no feedforward_modules given and no default for model type '",
                                     model_type(), "'; please specify feedforward_modules");
  feedforward_ = ModuleSelector::list_of(defaults);
  static_cast<Ia3Config&>(mutable_config()).feedforward_modules = feedforward_;  // PEFT records the default
}

std::shared_ptr<TunerLayer> Ia3Adapter::add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                               engine::Generator& gen) {
  auto layer = std::dynamic_pointer_cast<Ia3Linear>(module);
  if (!layer) {
    if (static_cast<engine::nn::Linear&>(*module).layout() == engine::WeightLayout::in_out)
      static_cast<Ia3Config&>(mutable_config()).fan_in_fan_out = true;  // PEFT: Conv1D forces it (saved so)
    layer = std::make_shared<Ia3Linear>(module, Ia3Config::is_feedforward(feedforward_, path));
  }
  layer->add_adapter(name(), ia3_config().init_ia3_weights, gen);
  return layer;
}

}  // namespace peft::ia3
