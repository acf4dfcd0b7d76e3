// cast_frozen_parameters (see precision.h): converts each frozen f32 parameter once and swaps
// the converted storage into the parameter's own TensorImpl.
#include "engine/nn/precision.h"

#include "engine/autograd/grad_mode.h"
#include "engine/ops/convert.h"

namespace engine::nn {

CastReport cast_frozen_parameters(Module& m, DType dtype) {
  check<ValueError>(dtype == DType::bf16 || dtype == DType::f16, "[cast_frozen_parameters] casts to bf16 or f16, got ",
                    dtype_name(dtype));
  NoGradGuard no_grad;
  CastReport report;
  for (auto& [name, p] : m.named_parameters()) {  // each tensor once, tied ones included
    if (p.requires_grad() || p.dtype() != DType::f32) continue;
    Tensor converted = to_dtype(p, dtype).contiguous();
    TensorImpl& impl = *p.impl();  // the same impl the module (and any tied module) holds
    impl.storage = converted.storage();
    impl.shape = converted.shape();
    impl.strides = converted.strides();
    impl.offset = converted.offset();
    impl.dtype = dtype;
    impl.grad.reset();
    ++report.tensors;
    report.numel += p.numel();
  }
  return report;
}

}  // namespace engine::nn
