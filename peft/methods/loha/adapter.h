// The LoHa adapter: LoHa layers on Linear / Conv1D targets (PEFT's LoHaModel).
#pragma once
#include "peft/methods/loha/config.h"
#include "peft/methods/loha/lycoris.h"

namespace peft::loha {

class LohaAdapter : public lycoris::LycorisAdapter {
 public:
  using LycorisAdapter::LycorisAdapter;

 protected:
  bool is_own_layer(const engine::nn::Module& module) const override;
  std::shared_ptr<lycoris::LycorisLayer> make_layer(const engine::nn::ModulePtr& base) const override;
  void add_factors(lycoris::LycorisLayer& layer, const std::string& path, const lycoris::LycorisSettings& s,
                   engine::Generator& gen) const override;
};

}  // namespace peft::loha
