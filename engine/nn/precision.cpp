// cast_frozen_parameters and convert_in_place (see precision.h): each frozen f32 parameter is
// converted once and the converted storage swapped into the parameter's own TensorImpl.
#include "engine/nn/precision.h"

#include <set>

#include "engine/autograd/grad_mode.h"
#include "engine/ops/convert.h"

namespace engine::nn {

CastReport cast_frozen_parameters(Module& m, DType dtype, const std::vector<Tensor>& keep) {
  check<ValueError>(dtype == DType::bf16 || dtype == DType::f16, "[cast_frozen_parameters] casts to bf16 or f16, got ",
                    dtype_name(dtype));
  std::set<const Storage*> kept;
  for (const Tensor& t : keep)
    if (t.defined()) kept.insert(t.storage().get());
  CastReport report;
  for (auto& [name, p] : m.named_parameters()) {  // each tensor once, tied ones included
    if (p.requires_grad() || p.dtype() != DType::f32 || kept.count(p.storage().get())) continue;
    convert_in_place(*p.impl(), dtype);  // the same impl the module (and any tied module) holds
    p.impl()->grad.reset();
    ++report.tensors;
    report.numel += p.numel();
  }
  return report;
}

void convert_in_place(TensorImpl& impl, DType dtype) {
  if (!is_floating(impl.dtype) || impl.dtype == dtype) return;
  NoGradGuard no_grad;
  Tensor view(std::shared_ptr<TensorImpl>(std::shared_ptr<TensorImpl>(), &impl));  // a non-owning handle
  Tensor converted = to_dtype(view.detach(), dtype).contiguous();
  impl.storage = converted.storage();
  impl.shape = converted.shape();
  impl.strides = converted.strides();
  impl.offset = converted.offset();
  impl.dtype = dtype;
}

}  // namespace engine::nn
