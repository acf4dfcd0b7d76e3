// The CUDA ops for builds without nvcc (ENGINE_CUDA off): every entry point says that this
// build has no CUDA backend. No CUDA tensor can exist in such a build (no allocator), so these
// are reached only through a hand-made device tensor or a bug.
#ifndef ENGINE_CUDA
#include "engine/backend/cuda/cuda_ops.h"

namespace engine::cuda {
namespace {
[[noreturn]] void no_backend(const char* op, Device d) {
  fail<NoKernelError>("[", op, "] no kernel for ", d.str(), ": this build has no CUDA backend (configure with nvcc present)");
}
Device gpu_of(const Tensor& a, const Tensor& b) { return a.device().is_cpu() ? b.device() : a.device(); }
}  // namespace

void require(const char* op, Device d) { no_backend(op, d); }
void copy_tensor(const Tensor& dst, const Tensor& src) { no_backend("copy_", gpu_of(dst, src)); }
void fill_tensor(const Tensor& dst, double) { no_backend("fill_", dst.device()); }
Tensor binary(const char* op, const Tensor& a, const Tensor& b) { no_backend(op, gpu_of(a, b)); }
Tensor compare(const char* op, const Tensor& a, const Tensor& b) { no_backend(op, gpu_of(a, b)); }
Tensor where(const Tensor& c, const Tensor& a, const Tensor& b) {
  no_backend("where", c.device().is_cpu() ? gpu_of(a, b) : c.device());
}
void unary_forward(cpu::Unary op, const Tensor& x, const Tensor&) { no_backend(cpu::unary_name(op), x.device()); }
void unary_backward(cpu::Unary op, const Tensor&, const Tensor&, const Tensor& gy, const Tensor&) {
  no_backend(cpu::unary_name(op), gy.device());
}
Tensor sum_dims(const char* op, const Tensor& x, const std::vector<bool>&, double) { no_backend(op, x.device()); }
MaxOut max_dims(const char* op, const Tensor& x, const std::vector<bool>&) { no_backend(op, x.device()); }
void put_along(const Tensor& gx, int64_t, const Tensor&, const Tensor&) { no_backend("max_backward", gx.device()); }
void softmax_forward(const Tensor& x, const Tensor&, bool log) { no_backend(log ? "log_softmax" : "softmax", x.device()); }
void softmax_backward(const Tensor& y, const Tensor&, const Tensor&, bool log) {
  no_backend(log ? "log_softmax" : "softmax", y.device());
}
void norm_forward(const Tensor& x, const Tensor&, const Tensor&, double, const Tensor&, const Tensor&, const Tensor&,
                  bool center) {
  no_backend(center ? "layer_norm" : "rms_norm", x.device());
}
void norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor& gy, const Tensor&,
                   const Tensor&, const Tensor&, bool center) {
  no_backend(center ? "layer_norm" : "rms_norm", gy.device());
}

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
