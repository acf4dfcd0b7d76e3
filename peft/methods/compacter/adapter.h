// The Compacter adapter: a bottleneck adapter whose down / up projections are PHM layers
// sharing one phm_rule per adapter (file key base_model.model.shared_parameters.phm_rule).
#pragma once
#include "peft/methods/bottleneck/adapter.h"
#include "peft/methods/compacter/config.h"

namespace peft::compacter {

class CompacterAdapter : public bottleneck::BottleneckAdapter {
 public:
  using BottleneckAdapter::BottleneckAdapter;
  const CompacterConfig& compacter_config() const { return static_cast<const CompacterConfig&>(config()); }
  void detach(models::PretrainedModel& model) override;

 protected:
  bottleneck::ProjectionFactory make_projection(models::PretrainedModel& model, engine::Generator& gen) override;
  NamedTensors shared_tensors() const override;

 private:
  Tensor shared_rule_;  // [n,n,n], undefined unless shared_phm_rule
};

}  // namespace peft::compacter
