// The GEMM plumbing shared by the ops in engine/ops (see gemm_dispatch.h).
#include "engine/ops/gemm_dispatch.h"

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/gemm.h"
#include "engine/backend/cpu/reduce.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"

namespace engine::gemm {

DType gemm_dtype(DType dt, Device device, const char* op) {
  check<DTypeError>(is_floating(dt), "[", op, "] expects floating operands, got ", dtype_name(dt));
  if (!device.is_cpu()) return dt;
  return dt == DType::bf16 || dt == DType::f16 ? DType::f32 : dt;
}

void check_device(const char* op, std::initializer_list<Tensor> ts) {
  const Tensor* first = nullptr;
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    if (!t.device().is_cpu()) cuda::require(op, t.device());
    if (!first) first = &t;
    check<NoKernelError>(t.device() == first->device(), "[", op, "] operands on ", first->device().str(), " and ",
                         t.device().str());
  }
}

void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  if (out.device().is_cpu()) cpu::matmul_into(name, a, b, out, accumulate);
  else cuda::matmul_into(name, a, b, out, accumulate);
}

Tensor sum_dims(const char* name, const Tensor& x, const std::vector<bool>& reduce) {
  return x.device().is_cpu() ? cpu::sum_dims(name, x, reduce) : cuda::sum_dims(name, x, reduce);
}

Tensor mT(const Tensor& x) { return transpose(x, -2, -1); }

Tensor reduce_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const size_t lead = g.shape().size() - shape.size();
  std::vector<bool> flags(g.shape().size());
  for (size_t d = 0; d < flags.size(); ++d) flags[d] = d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1);
  NoGradGuard no_grad;
  const DType ct = g.dtype() == DType::f64 ? DType::f64 : DType::f32;
  return to_dtype(reshape(sum_dims("sum_to", to_dtype(g, ct), flags), shape), g.dtype());
}

Tensor mm(const char* name, const Tensor& a, const Tensor& b, DType dt) {
  NoGradGuard no_grad;
  DType ct = gemm_dtype(a.device().is_cpu() ? dt : promote(a.dtype(), b.dtype()), a.device(), name);
  Tensor c = empty({a.size(0), b.size(1)}, ct, a.device());
  matmul_into(name, to_dtype(a, ct), to_dtype(b, ct), c);
  return to_dtype(c, dt);
}

}  // namespace engine::gemm
