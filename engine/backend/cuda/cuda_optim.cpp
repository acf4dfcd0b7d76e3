// Tensor-level optimizer steps and gradient norms on a GPU (see cuda_optim.h): checks, the
// device copy of mask indices (cached per mask, dropped when the mask dies), the tables of the
// multi-tensor launches (staged in pinned memory, one async copy each), and launches.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_optim.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <utility>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"

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

void cuda_ok(cudaError_t err, const char* call) {
  if (err != cudaSuccess) fail<Error>("[cuda] ", call, " failed: ", cudaGetErrorString(err));
}

// Pinned staging buffers for the tables, used in turn. A slot is rewritten only after the event
// recorded behind its last copy has fired, so the host never overwrites memory a pending copy
// still reads; with kSlots slots that wait is for a copy several uploads old (long done).
// Never freed: the driver may be gone when static destructors run.
struct Staging {
  static constexpr int kSlots = 4;
  struct Slot {
    void* host = nullptr;
    size_t capacity = 0;
    cudaEvent_t done = nullptr;
    bool pending = false;
  };
  std::mutex mu;
  Slot slots[kSlots];
  int next = 0;
};

// A device copy of `bytes` of host memory on `dev` (a buffer of the pooled allocator), made
// with one cudaMemcpyAsync on stream 0: kernels launched after it on stream 0 see the table, and
// the buffer's stream-ordered free comes after them.
Tensor upload(const void* data, size_t bytes, Device dev) {
  static Staging staging;
  std::lock_guard<std::mutex> lock(staging.mu);
  Staging::Slot& slot = staging.slots[staging.next];
  staging.next = (staging.next + 1) % Staging::kSlots;
  if (slot.pending) cuda_ok(cudaEventSynchronize(slot.done), "cudaEventSynchronize");
  slot.pending = false;
  if (!slot.done) cuda_ok(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  if (slot.capacity < bytes) {
    if (slot.host) cuda_ok(cudaFreeHost(slot.host), "cudaFreeHost");
    slot.host = nullptr, slot.capacity = 0;
    size_t cap = 4096;
    while (cap < bytes) cap *= 2;
    cuda_ok(cudaHostAlloc(&slot.host, cap, cudaHostAllocDefault), "cudaHostAlloc");
    slot.capacity = cap;
  }
  std::memcpy(slot.host, data, bytes);
  Tensor table = empty({int64_t((bytes + 7) / 8)}, DType::i64, dev);
  cuda_ok(cudaMemcpyAsync(table.raw_data(), slot.host, bytes, cudaMemcpyHostToDevice, 0), "cudaMemcpyAsync");
  cuda_ok(cudaEventRecord(slot.done, 0), "cudaEventRecord");
  slot.pending = true;
  return table;
}

// All tensors of one multi-tensor launch must live on one device.
Device common_device(const char* op, const std::vector<Device>& devs) {
  for (const Device& d : devs)
    check<NoKernelError>(d == devs[0], "[", op, "] multi-tensor step over ", devs[0].str(), " and ", d.str());
  return devs[0];
}

// Uploads `table` (chunk_begin filled here) and launches `launch(device table, count, chunks)`;
// false when the tensors hold no entries (nothing launched).
template <typename E, typename Launch>
bool launch_table(std::vector<E>& table, Device dev, Launch&& launch) {
  const int64_t count = int64_t(table.size()), chunks = kernels::assign_chunks(table.data(), count);
  if (chunks == 0) return false;
  Tensor dtable = upload(table.data(), table.size() * sizeof(E), dev);
  launch(reinterpret_cast<const E*>(dtable.raw_data()), count, chunks);
  return true;
}

// grad_norm_part with one partials launch per tensor (ENGINE_CUDA_OPTIM=per_tensor).
double norm_per_tensor(const std::vector<Tensor>& xs, double p, Device dev) {
  int64_t parts = 0;
  for (const Tensor& x : xs) parts += kernels::norm_blocks(x.numel());
  Tensor partials = empty({parts}, DType::f64, dev), total = empty({1}, DType::f64, dev);
  int64_t at = 0;
  for (const Tensor& x : xs) {
    kernels::norm_partials(x.raw_data(), int(x.dtype()), x.numel(), p, partials.data<double>() + at);
    count_kernel("grad_norm_partials");
    at += kernels::norm_blocks(x.numel());
  }
  kernels::norm_finish(partials.data<double>(), parts, std::isinf(p), total.data<double>());
  count_kernel("grad_norm_finish");
  double host = 0;
  copy_bytes(&host, Device::cpu(), total.raw_data(), dev, sizeof host);  // the one read back
  return host;
}

}  // namespace

void adamw_step(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
                const std::shared_ptr<GradMask>& mask, const kernels::AdamWScalars& s) {
  check_step("AdamW", param, grad, state, s.amsgrad ? 3 : 2);
  auto [idx, width] = device_mask(param, mask);
  kernels::adamw_step(param.raw_data(), int(param.dtype()), grad.data<float>(), state[0].data<float>(),
                      state[1].data<float>(), s.amsgrad ? state[2].data<float>() : nullptr, grad.numel(),
                      idx_ptr(idx), width, s);
  if (grad.numel() > 0) count_kernel("adamw_step");
}

void sgd_step(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
              const std::shared_ptr<GradMask>& mask, const kernels::SGDScalars& s) {
  check_step("SGD", param, grad, state, s.use_momentum ? 1 : 0);
  auto [idx, width] = device_mask(param, mask);
  kernels::sgd_step(param.raw_data(), int(param.dtype()), grad.data<float>(),
                    s.use_momentum ? state[0].data<float>() : nullptr, grad.numel(), idx_ptr(idx), width, s);
  if (grad.numel() > 0) count_kernel("sgd_step");
}

void adamw_multi_step(const std::vector<AdamWItem>& items) {
  if (items.empty()) return;
  std::vector<Device> devs;
  std::vector<kernels::AdamWTensor> table;
  std::vector<Tensor> keep;  // device mask indices, alive until the launch is queued
  for (const AdamWItem& it : items) {
    check_step("AdamW", it.param, it.grad, *it.state, it.s.amsgrad ? 3 : 2);
    auto [idx, width] = device_mask(it.param, it.mask);
    const std::vector<Tensor>& st = *it.state;
    table.push_back({it.param.raw_data(), it.grad.data<float>(), st[0].data<float>(), st[1].data<float>(),
                     it.s.amsgrad ? st[2].data<float>() : nullptr, idx_ptr(idx), width, it.grad.numel(), 0,
                     int(it.param.dtype()), it.s});
    devs.push_back(it.param.device());
    keep.push_back(idx);
  }
  // No FLOPs counted: the counters' FLOPs are the model's (the CPU optimizer counts none).
  if (launch_table(table, common_device("AdamW", devs), kernels::adamw_multi_step)) count_kernel("adamw_multi_tensor");
}

void sgd_multi_step(const std::vector<SGDItem>& items) {
  if (items.empty()) return;
  std::vector<Device> devs;
  std::vector<kernels::SGDTensor> table;
  std::vector<Tensor> keep;
  for (const SGDItem& it : items) {
    check_step("SGD", it.param, it.grad, *it.state, it.s.use_momentum ? 1 : 0);
    auto [idx, width] = device_mask(it.param, it.mask);
    table.push_back({it.param.raw_data(), it.grad.data<float>(),
                     it.s.use_momentum ? (*it.state)[0].data<float>() : nullptr, idx_ptr(idx), width,
                     it.grad.numel(), 0, int(it.param.dtype()), it.s});
    devs.push_back(it.param.device());
    keep.push_back(idx);
  }
  if (launch_table(table, common_device("SGD", devs), kernels::sgd_multi_step)) count_kernel("sgd_multi_tensor");
}

double grad_norm_part(const std::vector<Tensor>& grads, double p) {
  if (grads.empty()) return 0.0;
  const Device dev = grads[0].device();
  require("clip_grad_norm_", dev);
  std::vector<Tensor> xs;  // alive until the launch is queued
  std::vector<kernels::NormTensor> table;
  for (const Tensor& g : grads) {
    check<NoKernelError>(g.device() == dev, "[clip_grad_norm_] gradients on ", dev.str(), " and ", g.device().str());
    check<DTypeError>(half_or_f32(g.dtype()), "[clip_grad_norm_] cuda kernels take f32, bf16 or f16 gradients, got ",
                      dtype_name(g.dtype()));
    NoGradGuard no_grad;
    xs.push_back(g.contiguous());
    table.push_back({xs.back().raw_data(), g.numel(), 0, int(g.dtype()), 1.f});
  }
  if (!multi_tensor_optim()) return norm_per_tensor(xs, p, dev);
  const int64_t chunks = kernels::assign_chunks(table.data(), int64_t(table.size()));
  Tensor partials = empty({chunks > 0 ? chunks : 1}, DType::f64, dev), total = empty({1}, DType::f64, dev);
  const bool launched = launch_table(table, dev, [&](const kernels::NormTensor* t, int64_t count, int64_t n) {
    kernels::norm_multi_partials(t, count, n, p, partials.data<double>());
  });
  if (launched) count_kernel("grad_norm_multi_tensor");
  kernels::norm_finish(partials.data<double>(), chunks, std::isinf(p), total.data<double>());
  count_kernel("grad_norm_finish");
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
  if (t.numel() > 0) count_kernel("scale_grads");
}

void scale_multi_(const std::vector<Tensor>& ts, double s) {
  if (ts.empty()) return;
  std::vector<Device> devs;
  std::vector<kernels::NormTensor> table;
  double rounded[4] = {s, 0, 0, 0};  // s rounded to each dtype code's type, as scale_ does
  bool have[4] = {true, false, false, false};
  for (const Tensor& t : ts) {
    require("scale_grads_", t.device());
    check<DTypeError>(half_or_f32(t.dtype()) && t.is_contiguous(), "[scale_grads_] cuda kernel takes a contiguous ",
                      "f32, bf16 or f16 tensor, got ", dtype_name(t.dtype()));
    const int dt = int(t.dtype());
    if (!have[dt]) rounded[dt] = scalar(s, t.dtype()).to(DType::f64).item<double>(), have[dt] = true;
    table.push_back({t.raw_data(), t.numel(), 0, dt, float(rounded[dt])});
    devs.push_back(t.device());
  }
  if (launch_table(table, common_device("scale_grads_", devs), kernels::scale_multi))
    count_kernel("scale_grads_multi_tensor");
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
