// The cross-entropy CUDA entry points for builds without nvcc (ENGINE_CUDA off): every one
// says that this build has no CUDA backend. No GPU tensor exists in such a build, so only a
// hand-made device tensor reaches them.
#ifndef ENGINE_CUDA
#include "engine/backend/cuda/cuda_loss.h"

namespace engine::cuda {

CrossEntropyForward cross_entropy_forward(const Tensor& x, const Tensor&, int64_t, double, bool, bool) {
  fail<NoKernelError>("[cross_entropy] no kernel for ", x.device().str(), ": this build has no CUDA backend");
}
Tensor cross_entropy_backward(const Tensor& x, const Tensor&, const Tensor&, const Tensor&, int64_t, double, int64_t,
                              double) {
  fail<NoKernelError>("[cross_entropy] no kernel for ", x.device().str(), ": this build has no CUDA backend");
}

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
