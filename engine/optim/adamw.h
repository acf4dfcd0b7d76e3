// AdamW with torch.optim.AdamW's semantics (decoupled weight decay, bias correction,
// optional AMSGrad), one fused loop per parameter run; GPU parameters in one multi-tensor launch.
#pragma once
#include "engine/optim/optimizer.h"

namespace engine::optim {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // torch's default
  bool amsgrad = false;
};

class AdamW : public Optimizer {
 public:
  // `decay` (null = every parameter) picks who gets weight decay, e.g. hf_decay_filter(model).
  AdamW(const NamedTensors& params, const AdamWOptions& options = {}, const DecayFilter& decay = nullptr);
  std::string type_name() const override { return "AdamW"; }
  std::vector<std::string> slot_names() const override;
  std::map<std::string, double> hyperparameters() const override;
  const AdamWOptions& options() const { return opt_; }

 protected:
  void update(ParamSlot& p, const Tensor& g) override;
  void update_gpu(std::vector<std::pair<ParamSlot*, Tensor>>& batch) override;

 private:
  AdamWOptions opt_;
};

}  // namespace engine::optim
