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
}  // namespace

void require(const char* op, Device d) { no_backend(op, d); }
void set_allow_tf32(bool) {}
void copy_tensor(const Tensor& dst, const Tensor& src) { no_backend("copy_", dst.device().is_cpu() ? src.device() : dst.device()); }
void fill_tensor(const Tensor& dst, double) { no_backend("fill_", dst.device()); }
Tensor binary(const char* op, const Tensor& a, const Tensor& b) { no_backend(op, a.device().is_cpu() ? b.device() : a.device()); }
void unary_forward(cpu::Unary op, const Tensor& x, const Tensor&) { no_backend(cpu::unary_name(op), x.device()); }
void unary_backward(cpu::Unary op, const Tensor&, const Tensor&, const Tensor& gy, const Tensor&) {
  no_backend(cpu::unary_name(op), gy.device());
}
Tensor sum_dims(const char* op, const Tensor& x, const std::vector<bool>&) { no_backend(op, x.device()); }
void softmax_forward(const Tensor& x, const Tensor&, bool) { no_backend("softmax", x.device()); }
void softmax_backward(const Tensor& y, const Tensor&, const Tensor&, bool) { no_backend("softmax", y.device()); }
void norm_forward(const Tensor& x, const Tensor&, const Tensor&, double, const Tensor&, const Tensor&, const Tensor&,
                  bool center) {
  no_backend(center ? "layer_norm" : "rms_norm", x.device());
}
void norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor& gy, const Tensor&,
                   const Tensor&, const Tensor&, bool center) {
  no_backend(center ? "layer_norm" : "rms_norm", gy.device());
}
void matmul_into(const char* name, const Tensor&, const Tensor&, const Tensor& out, bool) { no_backend(name, out.device()); }

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
