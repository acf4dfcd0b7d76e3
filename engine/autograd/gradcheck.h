// Finite-difference gradient checking: compares every analytical gradient of fn with
// central differences (in f64), the test every op in the engine must pass.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace engine::autograd {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // the first failing input/element, with both values
};

// `fn` maps inputs to one output. Each input with requires_grad (any layout: transposed,
// sliced, broadcast views are fine — leaves made with detach().requires_grad_()) is
// checked element by element against (f(x+eps) - f(x-eps)) / 2eps, projected on a fixed
// random cotangent. Inputs should be f64.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double atol = 1e-6, double rtol = 1e-5);

}  // namespace engine::autograd
