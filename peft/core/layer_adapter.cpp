// LayerAdapter: injection, removal, activation and merging over the adapted layers.
#include "peft/core/layer_adapter.h"

#include "engine/engine.h"
#include "peft/core/targets.h"

namespace peft {

void LayerAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  model_type_ = model.model_type();
  const std::vector<std::string> targets =
      select_targets(model, tuner_config(), model_type_, [this](const engine::nn::Module& m) { return accepts(m); });
  before_layers(model, targets);
  engine::Generator gen(seed);
  for (const std::string& path : targets) {
    engine::nn::ModulePtr module = model.get(path);
    const bool training = module->is_training();
    std::shared_ptr<TunerLayer> layer = add_to(path, module, gen);
    layer->train(training);  // new adapter modules (dropout) follow the model's mode
    if (layer.get() != module.get()) model.replace_module(path, layer);
    layers_.emplace_back(path, layer);
  }
  attach_modules_to_save(model);
  set_active(true);
}

void LayerAdapter::detach(models::PretrainedModel& model) {
  for (auto& [path, layer] : layers_) {
    layer->unmerge(name());
    layer->set_active(name(), false);
    layer->remove_adapter(name());
    bool empty = true;
    for (const auto& [child_name, child] : layer->children())
      if (child_name != "base_layer") empty &= child->named_parameters().empty() && child->named_buffers().empty();
    if (empty) model.replace_module(path, layer->child("base_layer"));  // the original layer back
  }
  layers_.clear();
  detach_modules_to_save(model);
}

void LayerAdapter::set_active(bool on) {
  for (auto& [path, layer] : layers_) layer->set_active(name(), on);
  set_modules_to_save_active(on);
}

std::string LayerAdapter::merge_refusal() const {
  for (const auto& [path, layer] : layers_)
    if (std::string why = layer->merge_refusal(name()); !why.empty()) return path + ": " + why;
  return "";
}

void LayerAdapter::merge() {
  const std::string why = merge_refusal();
  engine::check<engine::ValueError>(why.empty(), "[merge] adapter '", name(), "' (", config().peft_type,
                                    ") cannot be merged: ", why);
  for (auto& [path, layer] : layers_) layer->merge(name());
}

void LayerAdapter::unmerge() {
  for (auto& [path, layer] : layers_) layer->unmerge(name());
}

bool LayerAdapter::merged() const { return !layers_.empty() && layers_.front().second->is_merged(name()); }

NamedTensors LayerAdapter::method_tensors() const {
  NamedTensors out;
  for (const auto& [path, layer] : layers_)
    for (auto& [suffix, t] : layer->adapter_tensors(name())) out.emplace_back("base_model.model." + path + "." + suffix, t);
  return out;
}

}  // namespace peft
