// See fused_activation.h.
#include "models/common/fused_activation.h"

#include <typeinfo>

#include "engine/nn/layers.h"
#include "engine/ops/linalg.h"

namespace models::common {

bool is_tanh_gelu(const std::string& act) {
  return act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast" || act == "gelu_accurate";
}

engine::Tensor call_with_activation(const engine::nn::Module& parent, const std::string& name, const std::string& act,
                                    const engine::Tensor& x) {
  const engine::nn::ModulePtr fc = parent.child(name);
  engine::nn::Module& fc_module = *fc;
  if (is_tanh_gelu(act) && typeid(fc_module) == typeid(engine::nn::Linear)) {
    auto& lin = static_cast<engine::nn::Linear&>(fc_module);
    return engine::linear_gelu_tanh(x, lin.weight(), lin.bias(), lin.layout());
  }
  return engine::nn::activation(act, parent.call(name, x));
}

}  // namespace models::common
