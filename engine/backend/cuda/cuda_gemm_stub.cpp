// The GEMM entry points for builds without nvcc (ENGINE_CUDA off): matmul_into says that this
// build has no CUDA backend; the TF32 switch is recorded (it has nothing to switch) so that
// code setting it runs on CPU-only builds.
#ifndef ENGINE_CUDA
#include <atomic>

#include "engine/backend/cuda/cuda_gemm.h"

namespace engine::cuda {
namespace {
std::atomic<bool> tf32_allowed{false};
}  // namespace

void matmul_into(const char* name, const Tensor&, const Tensor&, const Tensor& out, bool, const Tensor&,
                 const Tensor&) {
  fail<NoKernelError>("[", name, "] no kernel for ", out.device().str(),
                      ": this build has no CUDA backend (configure with nvcc present)");
}
void set_allow_tf32(bool on) { tf32_allowed = on; }
bool allow_tf32() { return tf32_allowed; }
void use_classic_cublas_for_testing(bool) {}

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
