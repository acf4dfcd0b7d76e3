// LoRA injection (see adapter.h).
#include "peft/methods/lora/adapter.h"

#include <iostream>

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/lora/init.h"
#include "peft/methods/lora/layer.h"
#include "peft/methods/lora/quantized_linear.h"

namespace peft::lora {

namespace nn = engine::nn;

bool LoraAdapter::accepts(const nn::Module& m) const {
  return is_linear(m) || dynamic_cast<const nn::Embedding*>(&m) || dynamic_cast<const LoraLinear*>(&m) ||
         dynamic_cast<const LoraEmbedding*>(&m);
}

std::shared_ptr<TunerLayer> LoraAdapter::add_to(const std::string& path, const nn::ModulePtr& module, engine::Generator& gen) {
  const LoraConfig& c = lora_config();
  LoraSettings s;
  s.r = c.rank_for(path);
  s.scaling = c.scaling(s.r, c.alpha_for(path));
  s.dropout = c.lora_dropout;
  s.use_dora = c.use_dora;
  s.lora_bias = c.lora_bias;

  std::shared_ptr<TunerLayer> layer = std::dynamic_pointer_cast<TunerLayer>(module);
  if (!layer) {
    if (auto* linear = dynamic_cast<nn::Linear*>(module.get())) {
      if (linear->layout() == engine::WeightLayout::in_out && !c.fan_in_fan_out) {
        // PEFT: "fan_in_fan_out is set to False but the target module is `Conv1D`" -> forced true.
        static_cast<LoraConfig&>(mutable_config()).fan_in_fan_out = true;
      }
      layer = make_lora_linear(path, module, c.quantize_base);
    } else {
      layer = std::make_shared<LoraEmbedding>(module);
    }
  }
  if (auto* l = dynamic_cast<LoraLinear*>(layer.get())) l->add_adapter(name(), s, gen);
  else static_cast<LoraEmbedding&>(*layer).add_adapter(name(), s, gen);
  apply_init(*layer, path);
  return layer;
}

void LoraAdapter::apply_init(TunerLayer& layer, const std::string& path) {
  const json& init = lora_config().init_lora_weights;
  if (init.is_boolean() && init.get<bool>()) return;  // the default, done by add_adapter
  auto* linear = dynamic_cast<LoraLinear*>(&layer);
  engine::check<engine::ConfigError>(linear != nullptr || init.is_boolean(), "[LORA] init_lora_weights=", init.dump(),
                                     " applies to Linear targets only, not ", path);
  if (init.is_boolean()) {  // false: B random too, so the adapter changes the output from the start
    random_init(layer, name());
  } else if (init == "gaussian") {
    gaussian_init(*linear, name());
  } else if (init == "olora") {
    olora_init(*linear, name());
  } else {
    pissa_init(*linear, name(), init.get<std::string>());
  }
}

void LoraAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  LayerAdapter::attach(model, seed);
  const std::string& bias = lora_config().bias;
  if (bias == "none") return;
  // bias="all": every bias of the model trains (saved under its name); "lora_only": the biases
  // of the adapted layers (saved as <path>.base_layer.bias), as PEFT.
  for (auto& [pname, t] : model.named_parameters()) {
    const bool is_bias = pname.size() >= 5 && pname.compare(pname.size() - 5, 5, ".bias") == 0;
    if (!is_bias || pname.find(".lora_") != std::string::npos || pname.find(".modules_to_save.") != std::string::npos) continue;
    bool in_target = false;
    for (const auto& [path, layer] : layers()) in_target |= pname == path + ".base_layer.bias";
    if (bias == "all" || in_target) {
      t.requires_grad_(true);
      trained_biases_.emplace_back("base_model.model." + pname, t);
    }
  }
}

void LoraAdapter::detach(models::PretrainedModel& model) {
  for (auto& [key, t] : trained_biases_) t.requires_grad_(false);
  trained_biases_.clear();
  LayerAdapter::detach(model);
}

NamedTensors LoraAdapter::method_tensors() const {
  NamedTensors out = LayerAdapter::method_tensors();
  out.insert(out.end(), trained_biases_.begin(), trained_biases_.end());
  return out;
}

}  // namespace peft::lora
