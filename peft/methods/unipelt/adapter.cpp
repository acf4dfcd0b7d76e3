// UniPELT: gated bottleneck + gated LoRA + gated prefix (see adapter.h).
#include "peft/methods/unipelt/adapter.h"

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/lora/config.h"

namespace peft::unipelt {

namespace nn = engine::nn;

void UnipeltConfig::fields(ConfigFields& f) {
  BnConfig::fields(f);
  f("r", r);
  f("lora_alpha", lora_alpha);
  f("target_modules", target_modules);
  f("prefix_length", prefix_length);
  f("bottleneck_size", bottleneck_size);
}

void UnipeltConfig::validate() const {
  BnConfig::validate();
  engine::check<engine::ConfigError>(r >= 1, "[UNIPELT] r must be positive, got ", r);
  engine::check<engine::ConfigError>(prefix_length >= 1 && bottleneck_size >= 1,
                                     "[UNIPELT] prefix_length and bottleneck_size must be positive");
}

void UnipeltAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  BottleneckAdapter::attach(model, seed);
  engine::Generator gen(seed + 0x9e3779b9);
  attach_lora(model, gen);
  const UnipeltConfig& c = unipelt_config();
  prefix_ = std::make_unique<mam::Prefix>(model, c.prefix_length, c.bottleneck_size, gen);
  for (int64_t l = 0; l < prefix_->layers(); ++l) {  // adapter-hub's prefix gate init
    auto gate = std::make_shared<nn::Linear>(model.hidden_size(), 1);
    gate->reset_parameters(gen);
    engine::copy_(gate->weight(), engine::normal({1, model.hidden_size()}, 0.0, 0.02, engine::DType::f32, gen));
    prefix_gates_.push_back(gate);
  }
  model_ = &model;
}

void UnipeltAdapter::attach_lora(models::PretrainedModel& model, engine::Generator& gen) {
  const UnipeltConfig& c = unipelt_config();
  lora::LoraConfig lc;  // the matching rules and defaults of LoRA
  lc.target_modules = c.target_modules;
  const auto targets = select_targets(model, lc, model.model_type(), [](const nn::Module& m) {
    return is_linear(m) || dynamic_cast<const GatedLoraLinear*>(&m) != nullptr;
  });
  const lora::LoraSettings s{.r = c.r, .scaling = c.lora_alpha / static_cast<double>(c.r)};
  for (const std::string& path : targets) {
    nn::ModulePtr module = model.get(path);
    auto layer = std::dynamic_pointer_cast<GatedLoraLinear>(module);
    if (!layer) {
      layer = std::make_shared<GatedLoraLinear>(module);
      model.replace_module(path, layer);
    }
    layer->add_gated_adapter(name(), s, gen);
    lora_.emplace_back(path, layer);
  }
}

void UnipeltAdapter::detach(models::PretrainedModel& model) {
  BottleneckAdapter::detach(model);
  for (auto& [path, layer] : lora_) {
    layer->set_active(name(), false);
    layer->remove_adapter(name());
    bool empty = true;  // LayerAdapter's rule: no adapter tensor left besides the base layer
    for (const auto& [child_name, child] : layer->children())
      if (child_name != "base_layer") empty &= child->named_parameters().empty();
    if (empty) model.replace_module(path, layer->child("base_layer"));
  }
  lora_.clear();
  prefix_.reset();
  prefix_gates_.clear();
  model_ = nullptr;
}

void UnipeltAdapter::set_active(bool on) {
  BottleneckAdapter::set_active(on);
  for (auto& [path, layer] : lora_) layer->set_active(name(), on);
}

void UnipeltAdapter::prepare(ForwardContext& ctx) const {
  const models::Batch& b = ctx.batch;
  engine::check<engine::ValueError>(b.input_ids.defined() || b.inputs_embeds.defined(),
                                    "[UNIPELT] the prefix gate needs input_ids or inputs_embeds");
  const Tensor e = b.inputs_embeds.defined() ? b.inputs_embeds : model_->input_embeddings().forward(b.input_ids);  // [B,T,D]
  std::vector<models::LayerKV> kv = prefix_->layer_kv();
  for (size_t l = 0; l < kv.size(); ++l) {
    Tensor g = engine::mean(engine::sigmoid(prefix_gates_[l]->forward(e)), {1});  // [B,T,1] -> [B,1]
    g = g.view({g.size(0), 1, 1, 1});                                                // [B,1,1,1]
    kv[l] = {kv[l].k * g, kv[l].v * g};  // [1,H,n,d] × [B,1,1,1] -> [B,H,n,d] (shared_gating: one gate for K and V)
  }
  mam::apply_prefix(ctx, std::move(kv), prefix_->length(), *model_, config().task_type.value_or(""));
}

std::string UnipeltAdapter::merge_refusal() const {
  return "UniPELT's bottleneck adapter and prefix are not weights, and its LoRA is gated by the input";
}

NamedTensors UnipeltAdapter::method_tensors() const {
  NamedTensors out = BottleneckAdapter::method_tensors();
  for (const auto& [path, layer] : lora_)
    for (auto& [suffix, t] : layer->adapter_tensors(name())) out.emplace_back("base_model.model." + path + "." + suffix, t);
  for (auto& kv : prefix_->tensors("base_model.model.prefix_tuning")) out.push_back(kv);
  for (size_t l = 0; l < prefix_gates_.size(); ++l)
    for (const auto& [p, t] : prefix_gates_[l]->named_parameters())
      out.emplace_back("base_model.model.prefix_gates." + std::to_string(l) + "." + p, t);
  return out;
}

}  // namespace peft::unipelt
