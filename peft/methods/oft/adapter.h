// The OFT adapter: injection into Linear / Conv1D targets (peft 0.11.1 takes torch Linear
// only; here GPT-2's Conv1D works too, its weight read in torch layout).
#pragma once
#include "peft/core/layer_adapter.h"
#include "peft/methods/oft/config.h"

namespace peft::oft {

class OftAdapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;
  const OftConfig& oft_config() const { return static_cast<const OftConfig&>(config()); }

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;
};

}  // namespace peft::oft
