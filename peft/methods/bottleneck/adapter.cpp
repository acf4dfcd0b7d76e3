// Bottleneck adapters at the hook sites (see adapter.h).
#include "peft/methods/bottleneck/adapter.h"

#include <algorithm>

#include "engine/engine.h"
#include "peft/methods/bottleneck/sites.h"

namespace peft::bottleneck {

void BottleneckAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  engine::Generator gen(seed);
  const ProjectionFactory projection = make_projection(model, gen);
  try {
    add_sites(model, projection, gen);
  } catch (...) {
    remove_slots();  // a half-attached adapter leaves no hook behind
    modules_.clear();
    throw;
  }
  attach_modules_to_save(model);
}

void BottleneckAdapter::add_sites(models::PretrainedModel& model, const ProjectionFactory& projection,
                                  engine::Generator& gen) {
  const BnConfig& c = bn_config();
  for (const BlockSite& s : block_sites(model)) {
    const bool wanted = s.kind == SiteKind::attention ? c.mh_adapter : c.output_adapter;
    if (!wanted || std::find(c.leave_out.begin(), c.leave_out.end(), s.layer) != c.leave_out.end()) continue;
    auto module = std::make_shared<BottleneckModule>(c, model.hidden_size(), gen, projection);
    engine::nn::Module& owner = *model.get(s.owner);
    const char* slot = s.kind == SiteKind::attention ? "attention_adapter" : "output_adapter";
    modules_.emplace_back("base_model.model." + s.owner + "." + slot, module);
    add_slot(owner, s.owner, site_name(s.kind, c.is_parallel), [module, &owner](const Tensor& h, const Tensor& input) {
      module->train(owner.is_training());  // the adapter lives outside the model tree: follow its mode
      return module->forward(h, input);
    });
  }
}

void BottleneckAdapter::detach(models::PretrainedModel& model) {
  remove_slots();
  detach_modules_to_save(model);
  modules_.clear();
}

void BottleneckAdapter::set_active(bool on) {
  SiteAdapter::set_active(on);
  set_modules_to_save_active(on);
}

std::string BottleneckAdapter::merge_refusal() const {
  return "a bottleneck adapter is a non-linear function of h: it cannot be folded into a weight";
}

NamedTensors BottleneckAdapter::method_tensors() const {
  NamedTensors out = shared_tensors();
  for (const auto& [prefix, module] : modules_)
    for (const auto& [name, t] : module->named_parameters()) out.emplace_back(prefix + "." + name, t);
  return out;
}

}  // namespace peft::bottleneck
