#include "engine/ops/convert.h"

#include "engine/autograd/node.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/core/counters.h"
#include "engine/ops/shape.h"

namespace engine {

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), dtype, x.device());
  count_kernel("convert", x.numel());
  copy_(out, x);
  if (!is_floating(dtype)) return out;  // integer results carry no gradient
  autograd::Recorder rec("to_dtype", {x});
  if (!rec) return out;
  DType from = x.dtype();
  return rec.finish(out, [from](const Tensor& g, autograd::Node&) -> std::vector<Tensor> {
    return {to_dtype(g, from)};
  });
}

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor src = x.contiguous();
  Tensor out = empty(x.shape(), x.dtype(), device);
  cuda::copy_bytes(out.raw_data(), device, src.raw_data(), src.device(), src.nbytes());
  autograd::Recorder rec("to_device", {x});
  if (!rec) return out;
  Device from = x.device();
  return rec.finish(out, [from](const Tensor& g, autograd::Node&) -> std::vector<Tensor> {
    return {to_device(g, from)};
  });
}

// Tensor's member shorthands for the free functions.
Tensor Tensor::reshape(const Shape& s) const { return engine::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return engine::view(*this, s); }
Tensor Tensor::permute(const std::vector<int64_t>& d) const { return engine::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return engine::transpose(*this, a, b); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t n) const { return engine::narrow(*this, d, s, n); }
Tensor Tensor::select(int64_t d, int64_t i) const { return engine::select(*this, d, i); }
Tensor Tensor::expand(const Shape& s) const { return engine::expand(*this, s); }
Tensor Tensor::squeeze(int64_t d) const { return engine::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return engine::unsqueeze(*this, d); }
Tensor Tensor::flatten(int64_t a, int64_t b) const { return engine::flatten(*this, a, b); }
Tensor Tensor::contiguous() const { return engine::contiguous(*this); }
Tensor Tensor::clone() const { return engine::clone(*this); }
Tensor Tensor::to(DType dt) const { return to_dtype(*this, dt); }
Tensor Tensor::to(Device d) const { return to_device(*this, d); }

}  // namespace engine
