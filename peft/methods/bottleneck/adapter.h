// The bottleneck adapter (Houlsby / Pfeiffer / parallel): one BottleneckModule per chosen
// site of every block, hooked at the models' sites (sites.h). File keys:
//   base_model.model.<site owner>.{attention_adapter|output_adapter}.<adapter-hub parameter name>
// e.g. base_model.model.bert.encoder.layer.0.output_adapter.adapter_down.weight.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "peft/core/composition.h"
#include "peft/methods/bottleneck/config.h"
#include "peft/methods/bottleneck/module.h"

namespace peft::bottleneck {

class BottleneckAdapter : public SiteAdapter {
 public:
  using SiteAdapter::SiteAdapter;
  const BnConfig& bn_config() const { return static_cast<const BnConfig&>(config()); }
  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;
  void set_active(bool on) override;
  std::string merge_refusal() const override;
  // (file key prefix, module) for every site, in model order.
  const std::vector<std::pair<std::string, std::shared_ptr<BottleneckModule>>>& modules() const { return modules_; }

 protected:
  NamedTensors method_tensors() const override;
  // Compacter's PHM projections (and their shared tensors); null = plain Linears.
  virtual ProjectionFactory make_projection(models::PretrainedModel& model, engine::Generator& gen) {
    (void)model, (void)gen;
    return nullptr;
  }
  // Tensors shared by every site (Compacter's phm_rule), by file key.
  virtual NamedTensors shared_tensors() const { return {}; }

 private:
  void add_sites(models::PretrainedModel& model, const ProjectionFactory& projection, engine::Generator& gen);
  std::vector<std::pair<std::string, std::shared_ptr<BottleneckModule>>> modules_;
};

}  // namespace peft::bottleneck
