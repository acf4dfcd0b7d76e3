// Tensor-level optimizer steps and gradient norms on a GPU (see cuda_optim.h): checks, the
// device copy of mask indices (cached per mask, dropped when the mask dies), and launches.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_optim.h"

#include <cmath>
#include <iterator>
#include <map>
#include <mutex>
#include <utility>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/cuda_ops.h"

namespace engine::cuda {
namespace {

bool half_or_f32(DType dt) { return dt == DType::f32 || dt == DType::bf16 || dt == DType::f16; }

void check_step(const char* op, const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
                size_t slots) {
  require(op, param.device());
  check<DTypeError>(half_or_f32(param.dtype()), "[", op, "] cuda kernels update f32, bf16 or f16 parameters, got ",
                    dtype_name(param.dtype()), " (f64 is CPU-only)");
  check<ValueError>(param.is_contiguous(), "[", op, "] needs a contiguous parameter");
  check<ValueError>(state.size() >= slots, "[", op, "] expects ", slots, " state tensors, got ", state.size());
  for (const Tensor* t : {&grad})
    check<ValueError>(t->device() == param.device() && t->dtype() == DType::f32 && t->is_contiguous(), "[", op,
                      "] the gradient must be contiguous f32 on ", param.device().str());
  for (size_t s = 0; s < slots; ++s)
    check<ValueError>(state[s].device() == param.device() && state[s].dtype() == DType::f32 &&
                          state[s].is_contiguous() && state[s].numel() == grad.numel(),
                      "[", op, "] state ", s, " must be contiguous f32 on ", param.device().str(), " with ",
                      grad.numel(), " entries, got ", shape_str(state[s].shape()), " ", dtype_name(state[s].dtype()),
                      " on ", state[s].device().str());
}

// The mask's indices on `dev` (uploaded once per mask) and the entries each index covers.
std::pair<Tensor, int64_t> device_mask(const Tensor& param, const std::shared_ptr<GradMask>& mask) {
  if (!mask) return {Tensor{}, 1};
  const int64_t width =
      mask->kind == GradMask::Kind::rows ? (param.size(0) ? param.numel() / param.size(0) : 0) : 1;
  const Device dev = param.device();
  if (mask->indices.device() == dev) return {mask->indices.contiguous(), width};
  static std::mutex mu;
  static std::map<const GradMask*, std::pair<std::weak_ptr<GradMask>, Tensor>> cache;
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = cache.begin(); it != cache.end();)  // drop copies of dead masks
    it = it->second.first.expired() ? cache.erase(it) : std::next(it);
  auto it = cache.find(mask.get());
  if (it == cache.end() || it->second.second.device() != dev) {
    NoGradGuard no_grad;
    Tensor idx = mask->indices.contiguous().to(dev);
    it = cache.insert_or_assign(mask.get(), std::make_pair(std::weak_ptr<GradMask>(mask), idx)).first;
  }
  return {it->second.second, width};
}

const int64_t* idx_ptr(const Tensor& idx) { return idx.defined() ? idx.data<int64_t>() : nullptr; }

}  // namespace

void adamw_step(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
                const std::shared_ptr<GradMask>& mask, const kernels::AdamWScalars& s) {
  check_step("AdamW", param, grad, state, s.amsgrad ? 3 : 2);
  auto [idx, width] = device_mask(param, mask);
  kernels::adamw_step(param.raw_data(), int(param.dtype()), grad.data<float>(), state[0].data<float>(),
                      state[1].data<float>(), s.amsgrad ? state[2].data<float>() : nullptr, grad.numel(),
                      idx_ptr(idx), width, s);
}

void sgd_step(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
              const std::shared_ptr<GradMask>& mask, const kernels::SGDScalars& s) {
  check_step("SGD", param, grad, state, s.use_momentum ? 1 : 0);
  auto [idx, width] = device_mask(param, mask);
  kernels::sgd_step(param.raw_data(), int(param.dtype()), grad.data<float>(),
                    s.use_momentum ? state[0].data<float>() : nullptr, grad.numel(), idx_ptr(idx), width, s);
}

double grad_norm_part(const std::vector<Tensor>& grads, double p) {
  if (grads.empty()) return 0.0;
  const Device dev = grads[0].device();
  require("clip_grad_norm_", dev);
  std::vector<Tensor> xs;
  int64_t parts = 0;
  for (const Tensor& g : grads) {
    check<NoKernelError>(g.device() == dev, "[clip_grad_norm_] gradients on ", dev.str(), " and ", g.device().str());
    check<DTypeError>(half_or_f32(g.dtype()), "[clip_grad_norm_] cuda kernels take f32, bf16 or f16 gradients, got ",
                      dtype_name(g.dtype()));
    NoGradGuard no_grad;
    xs.push_back(g.contiguous());
    parts += kernels::norm_blocks(g.numel());
  }
  Tensor partials = empty({parts}, DType::f64, dev), total = empty({1}, DType::f64, dev);
  int64_t at = 0;
  for (const Tensor& x : xs) {
    kernels::norm_partials(x.raw_data(), int(x.dtype()), x.numel(), p, partials.data<double>() + at);
    at += kernels::norm_blocks(x.numel());
  }
  kernels::norm_finish(partials.data<double>(), parts, std::isinf(p), total.data<double>());
  double host = 0;
  copy_bytes(&host, Device::cpu(), total.raw_data(), dev, sizeof host);  // the one read back
  return host;
}

void scale_(const Tensor& t, double s) {
  require("scale_grads_", t.device());
  check<DTypeError>(half_or_f32(t.dtype()) && t.is_contiguous(), "[scale_grads_] cuda kernel takes a contiguous ",
                    "f32, bf16 or f16 tensor, got ", dtype_name(t.dtype()));
  // mul_(t, s) on the CPU multiplies by scalar(s, t.dtype()): a half tensor's s is rounded to
  // the half type first. Round it the same way (host-side) so both give the same bits.
  const double st = t.dtype() == DType::f32 ? s : scalar(s, t.dtype()).to(DType::f64).item<double>();
  kernels::scale_inplace(t.raw_data(), int(t.dtype()), t.numel(), st);
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
