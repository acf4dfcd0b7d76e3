// Gradient norm, clipping and scaling over the gradients of a parameter list. Gradients on a
// GPU are reduced there (backend/cuda/optim.cu: one multi-tensor launch, a fixed-order second
// pass, one read back for all of them) and scaled in place there (one launch for all).
#include "engine/optim/grad_utils.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/simd_parallel.h"
#include "engine/backend/cuda/cuda_optim.h"
#include "engine/ops/binary.h"

namespace engine::optim {

namespace {

// sum |g|^p (or max |g| when p is infinite) of one gradient, in double. Partial results per
// fixed chunk are combined in chunk order: the same bits for any thread count.
double tensor_norm_part(const Tensor& grad, double p) {
  Tensor g = grad.contiguous();
  const int64_t n = g.numel(), chunk = cpu::kElementChunk;
  std::vector<double> part(size_t((n + chunk - 1) / chunk), 0.0);
  const bool inf = std::isinf(p);
  dispatch(g.dtype(), "clip_grad_norm_", [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T>) {
      fail<DTypeError>("[clip_grad_norm_] gradient of dtype ", dtype_name(g.dtype()));
    } else {
      const T* x = g.data<T>();
      cpu::for_chunks(n, chunk, [&](int64_t b, int64_t e) {
        double acc = 0;
        for (int64_t i = b; i < e; ++i) {
          double a = std::abs(double(float_or_same(x[i])));
          acc = inf ? std::max(acc, a) : (p == 2.0 ? acc + a * a : acc + std::pow(a, p));
        }
        part[size_t(b / chunk)] = acc;
      });
    }
  });
  double total = 0;
  for (double v : part) total = inf ? std::max(total, v) : total + v;
  return total;
}

}  // namespace

double grad_norm(const std::vector<Tensor>& params, double norm_type) {
  check<ValueError>(norm_type > 0, "[clip_grad_norm_] norm_type must be > 0, got ", norm_type);
  const bool inf = std::isinf(norm_type);
  double total = 0;
  std::vector<Tensor> on_gpu;
  for (const Tensor& t : params) {
    Tensor g = t.grad();
    if (!g.defined()) continue;
    if (!g.device().is_cpu()) {
      on_gpu.push_back(g);
      continue;
    }
    double part = tensor_norm_part(g, norm_type);
    total = inf ? std::max(total, part) : total + part;
  }
  if (!on_gpu.empty()) {
    double part = cuda::grad_norm_part(on_gpu, norm_type);
    total = inf ? std::max(total, part) : total + part;
  }
  if (inf) return total;
  return norm_type == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  double norm = grad_norm(params, norm_type);
  double coef = std::min(1.0, max_norm / (norm + 1e-6));  // torch clamps at 1 and always scales
  scale_grads_(params, coef);
  return norm;
}

void scale_grads_(const std::vector<Tensor>& params, double s) {
  NoGradGuard no_grad;
  std::vector<Tensor> on_gpu;  // scaled together, in one launch
  for (const Tensor& t : params) {
    Tensor g = t.grad();
    if (!g.defined()) continue;
    const bool kernel = !g.device().is_cpu() && g.is_contiguous() &&
                        (g.dtype() == DType::f32 || g.dtype() == DType::bf16 || g.dtype() == DType::f16);
    if (!kernel) mul_(g, s);
    else if (cuda::multi_tensor_optim()) on_gpu.push_back(g);
    else cuda::scale_(g, s);  // in place, no scalar upload
  }
  if (!on_gpu.empty()) cuda::scale_multi_(on_gpu, s);
}

void zero_grads(const std::vector<Tensor>& params) {
  for (const Tensor& t : params) Tensor(t).zero_grad();
}

}  // namespace engine::optim
