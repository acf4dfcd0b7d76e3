// (IA)³ on a Linear (either weight layout), as peft 0.11.1's ia3.Linear: a learned vector
// rescales the layer's output, or its input for feed-forward targets,
//
//   y = base(x) ⊙ l        l = ia3_l [out, 1]   (keys, values, ...)
//   y = base(x ⊙ l)        l = ia3_l [1, in]    (feed-forward: the FFN's second projection)
//
// Several active adapters multiply their vectors. Merge scales W along the matching axis
// (and, for output scaling, the bias); unmerge divides back, so a zero entry refuses merging.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::ia3 {

class Ia3Linear : public TunerLayer {
 public:
  Ia3Linear(engine::nn::ModulePtr base, bool is_feedforward);
  std::string type_name() const override { return "Ia3Linear"; }
  bool is_feedforward() const { return feedforward_; }

  // ia3_l: ones when `init_ones`, else N(0, 1) from `gen` (peft's randn before the reset).
  void add_adapter(const std::string& name, bool init_ones, engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return l_->contains(name); }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  std::string merge_refusal(const std::string& name) const override;
  Tensor& ia3_l(const std::string& name) const { return l_->at(name); }

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;
  void merge_into_base(const std::string& name) override;
  void unmerge_from_base(const std::string& name) override;

 private:
  void scale_base(const std::string& name, bool divide);
  bool feedforward_;
  std::shared_ptr<ParameterDict> l_;
};

}  // namespace peft::ia3
