// AdamW's update, written as torch 1.13's _single_tensor_adamw does it (same operation order,
// so float trajectories agree with torch to rounding). Parameters on a GPU take the fused
// kernels of backend/cuda/optim.cu with the same f32 scalars and order (the same bits): all of
// a step's GPU parameters in one multi-tensor launch.
#include "engine/optim/adamw.h"

#include <cmath>

#include "engine/backend/cuda/cuda_optim.h"
#include "engine/optim/for_each_run.h"

namespace engine::optim {

AdamW::AdamW(const NamedTensors& params, const AdamWOptions& options, const DecayFilter& decay)
    : Optimizer(params, options.lr, decay), opt_(options) {
  check<ValueError>(options.lr >= 0 && options.eps >= 0 && options.weight_decay >= 0,
                    "[AdamW] lr, eps and weight_decay must be >= 0");
  check<ValueError>(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
                    "[AdamW] betas must lie in [0, 1), got (", options.beta1, ", ", options.beta2, ")");
  init_state(slot_names().size());
}

std::vector<std::string> AdamW::slot_names() const {
  if (opt_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

std::map<std::string, double> AdamW::hyperparameters() const {
  return {{"beta1", opt_.beta1}, {"beta2", opt_.beta2}, {"eps", opt_.eps},
          {"weight_decay", opt_.weight_decay}, {"amsgrad", opt_.amsgrad ? 1.0 : 0.0}};
}

namespace {

// The f32 roundings of the per-step scalars AdamW::update's CPU loop computes in double.
cuda::kernels::AdamWScalars gpu_scalars(const AdamWOptions& o, double lr, const ParamSlot& p) {
  const double wd = p.decay ? o.weight_decay : 0.0;
  const double bc1 = 1 - std::pow(o.beta1, double(p.step));
  const double bc2_sqrt = std::sqrt(1 - std::pow(o.beta2, double(p.step)));
  return {float(1 - lr * wd), float(o.beta1), float(o.beta2), float(1 - o.beta1), float(1 - o.beta2),
          float(-(lr / bc1)), float(bc2_sqrt), float(o.eps), o.amsgrad};
}

}  // namespace

void AdamW::update_gpu(std::vector<std::pair<ParamSlot*, Tensor>>& batch) {
  if (!cuda::multi_tensor_optim()) return Optimizer::update_gpu(batch);
  std::vector<cuda::AdamWItem> items;
  items.reserve(batch.size());
  for (auto& [p, g] : batch) items.push_back({p->param, g, &p->state, p->mask, gpu_scalars(opt_, lr(), *p)});
  cuda::adamw_multi_step(items);
}

void AdamW::update(ParamSlot& p, const Tensor& g) {
  // Per-step scalars in double, as torch computes them in Python.
  const double lr = this->lr(), wd = p.decay ? opt_.weight_decay : 0.0;
  const double bc1 = 1 - std::pow(opt_.beta1, double(p.step));
  const double bc2_sqrt = std::sqrt(1 - std::pow(opt_.beta2, double(p.step)));
  const bool amsgrad = opt_.amsgrad;
  if (!p.param.device().is_cpu()) return cuda::adamw_step(p.param, g, p.state, p.mask, gpu_scalars(opt_, lr, p));
  for_each_run(p, g, [&]<typename T, typename S>(T* param, const S* grad, std::array<S*, 3> st, int64_t n) {
    S* m = st[0];
    S* v = st[1];
    S* vmax = st[2];
    const S decay = S(1 - lr * wd), beta1 = S(opt_.beta1), beta2 = S(opt_.beta2);
    const S one_minus_beta1 = S(1 - opt_.beta1), one_minus_beta2 = S(1 - opt_.beta2);
    const S step_size = S(-(lr / bc1)), bc2 = S(bc2_sqrt), eps = S(opt_.eps);
    for (int64_t i = 0; i < n; ++i) {
      S w = S(float_or_same(param[i])) * decay;              // param.mul_(1 - lr*wd)
      m[i] = m[i] * beta1 + one_minus_beta1 * grad[i];       // exp_avg.mul_(b1).add_(g, 1-b1)
      v[i] = v[i] * beta2 + one_minus_beta2 * grad[i] * grad[i];  // .mul_(b2).addcmul_(g, g, 1-b2)
      S second = v[i];
      if (amsgrad) second = vmax[i] = std::max(vmax[i], v[i]);
      S denom = std::sqrt(second) / bc2 + eps;
      param[i] = T(w + step_size * (m[i] / denom));          // addcdiv_(m, denom, -lr/bc1)
    }
  });
}

}  // namespace engine::optim
