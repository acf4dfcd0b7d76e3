// AdaLoRA on a Linear / Conv1D (PEFT's SVDLinear): an SVD-shaped update
//   y = base(x) + (dropout(x) · (A ⊙ E)ᵀ · Bᵀ) · α / (ranknum + 1e-5)
// with A [r,in] (right singular vectors), E [r,1] (singular values, pruned by the rank
// allocator), B [out,r] (left singular vectors); ranknum is the initial rank, fixed.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::adalora {

struct AdaLoraSettings {
  int64_t r = 12;          // this layer's rank (init_r, or the kept ranks of a loaded rank_pattern)
  double scaling = 8;      // lora_alpha (AdaLoRA does not divide by r here)
  double ranknum = 12;     // init_r: the divisor, unchanged by pruning
  double dropout = 0.0;
  bool init_weights = true;
};

class AdaLoraLinear : public TunerLayer {
 public:
  explicit AdaLoraLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "SVDLinear"; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  // E = 0, A, B ~ N(0, 0.02) (PEFT's reset_lora_parameters); init_weights false: all N(0, 1).
  void add_adapter(const std::string& name, const AdaLoraSettings& s, engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return settings_.count(name) > 0; }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  Tensor delta_weight(const std::string& name) const override;  // B·(A⊙E)·α/(ranknum+1e-5), [out,in]

  const AdaLoraSettings& settings(const std::string& name) const { return settings_.at(name); }
  Tensor& lora_A(const std::string& name) const { return A_->at(name); }  // [r,in]
  Tensor& lora_E(const std::string& name) const { return E_->at(name); }  // [r,1]
  Tensor& lora_B(const std::string& name) const { return B_->at(name); }  // [out,r]

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;

 private:
  double factor(const std::string& name) const { return settings_.at(name).scaling / (settings_.at(name).ranknum + 1e-5); }
  int64_t in_, out_;
  std::map<std::string, AdaLoraSettings> settings_;
  std::shared_ptr<ParameterDict> A_, E_, B_, ranknum_;
  std::shared_ptr<ModuleDict> dropout_;
};

}  // namespace peft::adalora
