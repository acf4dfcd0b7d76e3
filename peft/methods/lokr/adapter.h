// The LoKr adapter: LoKr layers on Linear / Conv1D targets (PEFT's LoKrModel).
#pragma once
#include "peft/methods/lokr/config.h"

namespace peft::lokr {

class LokrAdapter : public lycoris::LycorisAdapter {
 public:
  using LycorisAdapter::LycorisAdapter;
  const LokrConfig& lokr_config() const { return static_cast<const LokrConfig&>(config()); }

 protected:
  bool is_own_layer(const engine::nn::Module& module) const override;
  std::shared_ptr<lycoris::LycorisLayer> make_layer(const engine::nn::ModulePtr& base) const override;
  void add_factors(lycoris::LycorisLayer& layer, const std::string& path, const lycoris::LycorisSettings& s,
                   engine::Generator& gen) const override;
};

}  // namespace peft::lokr
