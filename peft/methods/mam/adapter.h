// The MAM adapter: a scaled parallel bottleneck adapter on every FFN (the bottleneck part,
// file keys as BOTTLENECK's) plus prefix tuning on every self-attention layer (file keys
// base_model.model.prefix_tuning.{embedding.weight, transform.{0,2}.{weight,bias}}).
#pragma once
#include <memory>

#include "peft/methods/bottleneck/adapter.h"
#include "peft/methods/mam/config.h"
#include "peft/methods/mam/prefix.h"

namespace peft::mam {

class MamAdapter : public bottleneck::BottleneckAdapter {
 public:
  using BottleneckAdapter::BottleneckAdapter;
  const MamConfig& mam_config() const { return static_cast<const MamConfig&>(config()); }
  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;
  void prepare(ForwardContext& ctx) const override;
  bool composable() const override { return false; }  // its prefix is no site function

 protected:
  NamedTensors method_tensors() const override;

 private:
  std::unique_ptr<Prefix> prefix_;
  const models::PretrainedModel* model_ = nullptr;
};

}  // namespace peft::mam
