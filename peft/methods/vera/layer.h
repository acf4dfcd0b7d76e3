// VeRA on a Linear / Conv1D: y = base(x) + λ_b ⊙ (B_s · (λ_d ⊙ (A_s · dropout(x)))), where
// A [r, max_in] and B [max_out, r] are frozen random projections shared by every adapted layer
// (held by the adapter) and A_s = A[:, :in], B_s = B[:out, :] their slices for this layer's
// shape. Only λ_b [out] and λ_d [r] train.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::vera {

struct VeraSettings {
  double dropout = 0.0;
  double d_initial = 0.1;
  bool init_weights = true;  // false: λ_b random too (a non-identity start, for tests)
};

class VeraLinear : public TunerLayer {
 public:
  explicit VeraLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "VeraLinear"; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  // Adds adapter `name` over the shared projections `vera_A` [r, >=in], `vera_B` [>=out, r]
  // (live handles: loading new values into them changes every layer).
  void add_adapter(const std::string& name, const Tensor& vera_A, const Tensor& vera_B, const VeraSettings& s,
                   engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return projections_.count(name) > 0; }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  Tensor delta_weight(const std::string& name) const override;  // (λ_b·B_s)·(λ_d·A_s), [out,in]

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;

 private:
  Tensor sliced_A(const std::string& name) const;  // [r, in]
  Tensor sliced_B(const std::string& name) const;  // [out, r]
  int64_t in_, out_;
  std::map<std::string, std::pair<Tensor, Tensor>> projections_;  // name -> (vera_A, vera_B)
  std::shared_ptr<ParameterDict> lambda_b_, lambda_d_;
  std::shared_ptr<ModuleDict> dropout_;
};

}  // namespace peft::vera
