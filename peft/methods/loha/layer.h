// LoHa on a Linear / Conv1D: ΔW = ((w1a·w1b) ⊙ (w2a·w2b)) · α/r, every factor trainable,
// stored in ParameterDicts named like PEFT's (`query.hada_w1_a.default`).
#pragma once
#include <memory>
#include <string>

#include "peft/methods/loha/lycoris.h"

namespace peft::loha {

class LohaLinear : public lycoris::LycorisLayer {
 public:
  explicit LohaLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "LohaLinear"; }
  // w1a, w1b, w2a Kaiming-uniform(a=√5), w2b zero (ΔW = 0 at the start), as PEFT; with
  // init_weights false w2b is drawn too.
  void add_adapter(const std::string& name, const lycoris::LycorisSettings& s, bool init_weights, engine::Generator& gen);
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;

 protected:
  Tensor make_delta(const std::string& name) const override;
  void remove_factors(const std::string& name) override;

 private:
  std::shared_ptr<ParameterDict> w1a_, w1b_, w2a_, w2b_;
};

}  // namespace peft::loha
