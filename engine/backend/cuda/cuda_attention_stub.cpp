// The fused CUDA attention for builds without nvcc (ENGINE_CUDA off): every entry point says
// that this build has no CUDA backend (no CUDA tensor can exist in such a build).
#ifndef ENGINE_CUDA
#include "engine/backend/cuda/cuda_attention.h"

namespace engine::cuda {
namespace {
[[noreturn]] void no_backend(Device d) {
  fail<NoKernelError>("[attention] no kernel for ", d.str(), ": this build has no CUDA backend");
}
}  // namespace

void attention_forward(const AttentionSpec&, const Tensor& q, const Tensor&, const Tensor&, const Tensor&,
                       const Tensor&, const Tensor&, const Tensor&) {
  no_backend(q.device());
}
void attention_backward(const AttentionSpec&, const Tensor& q, const Tensor&, const Tensor&, const Tensor&,
                        const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                        const Tensor&, const Tensor&) {
  no_backend(q.device());
}

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
