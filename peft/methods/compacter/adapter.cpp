// Compacter's projections (see adapter.h).
#include "peft/methods/compacter/adapter.h"

#include "engine/engine.h"
#include "peft/methods/compacter/phm.h"

namespace peft::compacter {

bottleneck::ProjectionFactory CompacterAdapter::make_projection(models::PretrainedModel& model, engine::Generator& gen) {
  (void)model;
  const CompacterConfig& c = compacter_config();
  if (c.shared_phm_rule) {
    shared_rule_ = PhmLayer::init_rule(c, gen);
    shared_rule_.requires_grad_(c.learn_phm);
  }
  return [this](int64_t in, int64_t out, engine::Generator& g) -> std::shared_ptr<engine::nn::UnaryModule> {
    return std::make_shared<PhmLayer>(compacter_config(), in, out, shared_rule_, g);
  };
}

NamedTensors CompacterAdapter::shared_tensors() const {
  if (!shared_rule_.defined()) return {};
  return {{"base_model.model.shared_parameters.phm_rule", shared_rule_}};
}

void CompacterAdapter::detach(models::PretrainedModel& model) {
  BottleneckAdapter::detach(model);
  shared_rule_ = Tensor{};
}

}  // namespace peft::compacter
