// BOFT injection and bias training (see adapter.h).
#include "peft/methods/boft/adapter.h"

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/boft/layer.h"

namespace peft::boft {

bool BoftAdapter::accepts(const engine::nn::Module& m) const {
  return is_linear(m) || dynamic_cast<const BoftLinear*>(&m) != nullptr;
}

std::shared_ptr<TunerLayer> BoftAdapter::add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                                engine::Generator& gen) {
  (void)path;
  const BoftConfig& c = boft_config();
  auto layer = std::dynamic_pointer_cast<BoftLinear>(module);
  if (!layer) {
    // As LoRA: the flag follows the layer kind (true for Conv1D), and the config records it.
    const bool conv1d = static_cast<engine::nn::Linear&>(*module).layout() == engine::WeightLayout::in_out;
    static_cast<BoftConfig&>(mutable_config()).fan_in_fan_out = conv1d;
    layer = std::make_shared<BoftLinear>(module);
  }
  layer->add_adapter(name(), BoftSettings{c.boft_block_size, c.boft_block_num, c.boft_n_butterfly_factor, c.boft_dropout, c.init_weights}, gen);
  return layer;
}

void BoftAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  LayerAdapter::attach(model, seed);
  const std::string& bias = boft_config().bias;
  if (bias == "none") return;
  // "all": every bias trains (saved under its model name); "boft_only": the adapted layers'.
  for (auto& [pname, t] : model.named_parameters()) {
    const bool is_bias = pname.size() >= 5 && pname.compare(pname.size() - 5, 5, ".bias") == 0;
    if (!is_bias || pname.find(".boft_") != std::string::npos || pname.find(".modules_to_save.") != std::string::npos) continue;
    bool in_target = false;
    for (const auto& [path, layer] : layers()) in_target |= pname == path + ".base_layer.bias";
    if (bias == "all" || in_target) {
      t.requires_grad_(true);
      trained_biases_.emplace_back("base_model.model." + pname, t);
    }
  }
}

void BoftAdapter::detach(models::PretrainedModel& model) {
  for (auto& [key, t] : trained_biases_) t.requires_grad_(false);
  trained_biases_.clear();
  LayerAdapter::detach(model);
}

NamedTensors BoftAdapter::method_tensors() const {
  NamedTensors out = LayerAdapter::method_tensors();
  out.insert(out.end(), trained_biases_.begin(), trained_biases_.end());
  return out;
}

}  // namespace peft::boft
