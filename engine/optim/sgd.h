// SGD with torch.optim.SGD's semantics: weight decay added to the gradient, momentum with
// dampening (the first step's buffer is the gradient itself), optional Nesterov. GPU parameters
// are updated in one multi-tensor launch.
#pragma once
#include "engine/optim/optimizer.h"

namespace engine::optim {

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(const NamedTensors& params, const SGDOptions& options = {}, const DecayFilter& decay = nullptr);
  std::string type_name() const override { return "SGD"; }
  std::vector<std::string> slot_names() const override;
  std::map<std::string, double> hyperparameters() const override;
  const SGDOptions& options() const { return opt_; }

 protected:
  void update(ParamSlot& p, const Tensor& g) override;
  void update_gpu(std::vector<std::pair<ParamSlot*, Tensor>>& batch) override;

 private:
  SGDOptions opt_;
};

}  // namespace engine::optim
