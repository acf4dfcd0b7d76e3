// module_to / module_device: in-place moves of a module's tensors (see module_device.h).
#include "engine/nn/module_device.h"

#include <map>
#include <memory>
#include <set>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/core/storage.h"
#include "engine/nn/precision.h"
#include "engine/ops/convert.h"

namespace engine::nn {

namespace {

// Every distinct impl of the subtree: parameters, buffers and their gradients.
std::vector<TensorImpl*> module_impls(const Module& m) {
  std::vector<TensorImpl*> out;
  std::set<TensorImpl*> seen;
  auto add = [&](TensorImpl* impl) {
    if (impl && impl->storage && seen.insert(impl).second) out.push_back(impl);
  };
  for (const auto& [name, t] : m.named_parameters()) add(t.impl());
  for (const auto& [name, t] : m.named_buffers()) add(t.impl());
  const size_t owned = out.size();
  for (size_t i = 0; i < owned; ++i) add(out[i]->grad.get());
  return out;
}

// Replaces each impl's storage by a copy on `device`; impls sharing a storage share the copy.
void move_impls(const std::vector<TensorImpl*>& impls, Device device) {
  // The old storages are kept alive until the end so that no address is reused while it is
  // still a key of `moved` (a freed storage's address could come back for a new one).
  std::vector<std::shared_ptr<Storage>> old;
  std::map<const Storage*, std::shared_ptr<Storage>> moved;
  for (TensorImpl* impl : impls) {
    const std::shared_ptr<Storage>& src = impl->storage;
    if (src->device() == device) continue;
    std::shared_ptr<Storage>& dst = moved[src.get()];
    if (!dst) {
      dst = std::make_shared<Storage>(src->nbytes(), device);
      if (src->nbytes() > 0) cuda::copy_bytes(dst->data(), device, src->data(), src->device(), src->nbytes());
    }
    old.push_back(src);
    impl->storage = dst;
  }
}

}  // namespace

void require_device(Device device, const char* who) {
  if (device.is_cpu()) return;
  check<NoKernelError>(cuda::built(), "[", who, "] ", device.str(), ": this build has no CUDA backend");
  const int count = cuda::device_count();
  check<NoKernelError>(count > 0, "[", who, "] ", device.str(), ": this machine has no CUDA device");
  check<NoKernelError>(device.index >= 0 && device.index < count, "[", who, "] ", device.str(),
                       ": this machine has ", count, " CUDA device(s)");
}

void module_to(Module& m, Device device) {
  require_device(device, ("module_to(" + m.type_name() + ")").c_str());
  NoGradGuard no_grad;
  move_impls(module_impls(m), device);
}

void module_to(Module& m, DType dtype) {
  check<DTypeError>(is_floating(dtype), "[module_to] ", m.type_name(), ": target dtype ", dtype_name(dtype),
                    " is not a floating dtype");
  NoGradGuard no_grad;
  for (TensorImpl* impl : module_impls(m)) convert_in_place(*impl, dtype);
}

Device module_device(const Module& m) {
  std::vector<TensorImpl*> impls = module_impls(m);
  if (impls.empty()) return Device::cpu();
  const Device first = impls.front()->storage->device();
  for (TensorImpl* impl : impls)
    check<ValueError>(impl->storage->device() == first, "[module_device] ", m.type_name(),
                      " has tensors on ", first.str(), " and on ", impl->storage->device().str());
  return first;
}

void tensors_to(const std::vector<Tensor>& tensors, Device device, const char* who) {
  require_device(device, who);
  NoGradGuard no_grad;
  std::vector<TensorImpl*> impls;
  std::set<TensorImpl*> seen;
  for (const Tensor& t : tensors)
    if (t.defined() && seen.insert(t.impl()).second) impls.push_back(t.impl());
  const size_t owned = impls.size();
  for (size_t i = 0; i < owned; ++i)
    if (TensorImpl* g = impls[i]->grad.get(); g && seen.insert(g).second) impls.push_back(g);
  move_impls(impls, device);
}

}  // namespace engine::nn
