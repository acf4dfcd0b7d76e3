// The CUDA indexing entry points for builds without nvcc (ENGINE_CUDA off): each says that this
// build has no CUDA backend. No GPU tensor exists in such a build, so only a hand-made device
// tensor (or a bug) gets here.
#ifndef ENGINE_CUDA
#include "engine/backend/cuda/cuda_indexing.h"

namespace engine::cuda {
namespace {
[[noreturn]] void no_backend(const char* op, Device d) {
  fail<NoKernelError>("[", op, "] no kernel for ", d.str(), ": this build has no CUDA backend");
}
}  // namespace

Tensor checked_index(const Tensor& index, int64_t, const char* op, const char*, const char*) {
  no_backend(op, index.device());
}
Tensor index_rows(const char* op, const Tensor& x, int64_t, const Tensor&, const Shape&) { no_backend(op, x.device()); }
Tensor index_add_rows(const char* op, const Tensor& g, int64_t, const Tensor&, const Shape&) {
  no_backend(op, g.device());
}
Tensor gather(const Tensor& x, int64_t, const Tensor&) { no_backend("gather", x.device()); }
void scatter_add_into(const Tensor& out, int64_t, const Tensor&, const Tensor&) { no_backend("scatter_add", out.device()); }
Tensor dropout(const Tensor& x, double, uint64_t, uint64_t) { no_backend("dropout", x.device()); }

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
