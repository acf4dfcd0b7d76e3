// The optimizer CUDA entry points for builds without nvcc (ENGINE_CUDA off): every one says
// that this build has no CUDA backend. No GPU tensor exists in such a build, so only a
// hand-made device tensor reaches them.
#ifndef ENGINE_CUDA
#include "engine/backend/cuda/cuda_optim.h"

namespace engine::cuda {
namespace {
[[noreturn]] void no_backend(const char* op, const Tensor& t) {
  fail<NoKernelError>("[", op, "] no kernel for ", t.device().str(), ": this build has no CUDA backend");
}
}  // namespace

void adamw_step(const Tensor& param, const Tensor&, const std::vector<Tensor>&, const std::shared_ptr<GradMask>&,
                const kernels::AdamWScalars&) {
  no_backend("AdamW", param);
}
void sgd_step(const Tensor& param, const Tensor&, const std::vector<Tensor>&, const std::shared_ptr<GradMask>&,
              const kernels::SGDScalars&) {
  no_backend("SGD", param);
}
void adamw_multi_step(const std::vector<AdamWItem>& items) {
  if (!items.empty()) no_backend("AdamW", items[0].param);
}
void sgd_multi_step(const std::vector<SGDItem>& items) {
  if (!items.empty()) no_backend("SGD", items[0].param);
}
double grad_norm_part(const std::vector<Tensor>& grads, double) { no_backend("clip_grad_norm_", grads.at(0)); }
void scale_(const Tensor& t, double) { no_backend("scale_grads_", t); }
void scale_multi_(const std::vector<Tensor>& ts, double) {
  if (!ts.empty()) no_backend("scale_grads_", ts[0]);
}

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
