// MAM = parallel adapter + prefix tuning (see adapter.h).
#include "peft/methods/mam/adapter.h"

#include "engine/engine.h"

namespace peft::mam {

void MamConfig::validate() const {
  BnConfig::validate();
  engine::check<engine::ConfigError>(prefix_length >= 1 && bottleneck_size >= 1, "[", peft_type,
                                     "] prefix_length and bottleneck_size must be positive, got ", prefix_length,
                                     " and ", bottleneck_size);
}

void MamAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  BottleneckAdapter::attach(model, seed);
  engine::Generator gen(seed + 0x9e3779b9);  // the prefix's own stream
  prefix_ = std::make_unique<Prefix>(model, mam_config().prefix_length, mam_config().bottleneck_size, gen);
  model_ = &model;
}

void MamAdapter::detach(models::PretrainedModel& model) {
  BottleneckAdapter::detach(model);
  prefix_.reset();
  model_ = nullptr;
}

void MamAdapter::prepare(ForwardContext& ctx) const {
  apply_prefix(ctx, prefix_->layer_kv(), prefix_->length(), *model_, config().task_type.value_or(""));
}

NamedTensors MamAdapter::method_tensors() const {
  NamedTensors out = BottleneckAdapter::method_tensors();
  for (auto& kv : prefix_->tensors("base_model.model.prefix_tuning")) out.push_back(kv);
  return out;
}

}  // namespace peft::mam
