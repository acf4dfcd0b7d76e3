// SGD's update in the operation order of torch 1.13's _single_tensor_sgd. Parameters on a GPU
// take the fused kernels of backend/cuda/optim.cu with the same f32 scalars and order: all of a
// step's GPU parameters in one multi-tensor launch.
#include "engine/optim/sgd.h"

#include "engine/backend/cuda/cuda_optim.h"
#include "engine/optim/for_each_run.h"

namespace engine::optim {

SGD::SGD(const NamedTensors& params, const SGDOptions& options, const DecayFilter& decay)
    : Optimizer(params, options.lr, decay), opt_(options) {
  check<ValueError>(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0,
                    "[SGD] lr, momentum and weight_decay must be >= 0");
  check<ValueError>(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
                    "[SGD] Nesterov momentum requires a momentum and zero dampening");
  init_state(slot_names().size());
}

std::vector<std::string> SGD::slot_names() const {
  if (opt_.momentum != 0) return {"momentum_buffer"};
  return {};
}

std::map<std::string, double> SGD::hyperparameters() const {
  return {{"momentum", opt_.momentum}, {"dampening", opt_.dampening},
          {"weight_decay", opt_.weight_decay}, {"nesterov", opt_.nesterov ? 1.0 : 0.0}};
}

namespace {

// The f32 roundings of the scalars SGD::update's CPU loop uses, and its flags.
cuda::kernels::SGDScalars gpu_scalars(const SGDOptions& o, double lr, const ParamSlot& p) {
  const double wd = p.decay ? o.weight_decay : 0.0;
  return {float(wd), float(o.momentum), float(1 - o.dampening), float(-lr), wd != 0, o.momentum != 0, o.nesterov,
          p.step == 1};  // torch: the buffer starts as a copy of d_p
}

}  // namespace

void SGD::update_gpu(std::vector<std::pair<ParamSlot*, Tensor>>& batch) {
  if (!cuda::multi_tensor_optim()) return Optimizer::update_gpu(batch);
  std::vector<cuda::SGDItem> items;
  items.reserve(batch.size());
  for (auto& [p, g] : batch) items.push_back({p->param, g, &p->state, p->mask, gpu_scalars(opt_, lr(), *p)});
  cuda::sgd_multi_step(items);
}

void SGD::update(ParamSlot& p, const Tensor& g) {
  const double wd_d = p.decay ? opt_.weight_decay : 0.0;
  const bool use_momentum = opt_.momentum != 0, nesterov = opt_.nesterov;
  const bool first = p.step == 1;  // torch: the buffer starts as a copy of d_p
  if (!p.param.device().is_cpu()) return cuda::sgd_step(p.param, g, p.state, p.mask, gpu_scalars(opt_, lr(), p));
  for_each_run(p, g, [&]<typename T, typename S>(T* param, const S* grad, std::array<S*, 3> st, int64_t n) {
    S* buf = st[0];
    const S wd = S(wd_d), mom = S(opt_.momentum), damp = S(1 - opt_.dampening), neg_lr = S(-this->lr());
    for (int64_t i = 0; i < n; ++i) {
      S w = S(float_or_same(param[i]));
      S d = wd_d != 0 ? grad[i] + wd * w : grad[i];  // d_p.add(param, alpha=wd)
      if (use_momentum) {
        buf[i] = first ? d : buf[i] * mom + damp * d;  // buf.mul_(m).add_(d_p, 1-dampening)
        d = nesterov ? d + mom * buf[i] : buf[i];
      }
      param[i] = T(w + neg_lr * d);  // param.add_(d_p, alpha=-lr)
    }
  });
}

}  // namespace engine::optim
