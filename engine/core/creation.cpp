// Tensor creation: empty/zeros/ones/full/arange, from host data, and seeded random draws.
#include <cmath>

#include "engine/core/philox.h"
#include "engine/core/strided.h"
#include "engine/core/tensor.h"

namespace engine {

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape)
    check<ShapeError>(s >= 0, "[empty] negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(size_t(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor scalar(double value, DType dtype) { return full({}, value, dtype); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }

Tensor arange(int64_t start, int64_t end, int64_t step, DType dtype) {
  check<ValueError>(step != 0, "[arange] step must be non-zero");
  int64_t n = std::max<int64_t>(0, (end - start + step + (step > 0 ? -1 : 1)) / step);
  Tensor t = empty({n}, dtype);
  dispatch(dtype, "arange", [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = T(float_or_same(double(start + i * step)));
  });
  return t;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  check<ShapeError>(int64_t(values.size()) == shape_numel(shape), "[from_vector] ", values.size(),
                    " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_v<T>);
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor from_vector(const std::vector<float>&, const Shape&);
template Tensor from_vector(const std::vector<double>&, const Shape&);
template Tensor from_vector(const std::vector<int32_t>&, const Shape&);
template Tensor from_vector(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector(const std::vector<bf16>&, const Shape&);
template Tensor from_vector(const std::vector<f16>&, const Shape&);
template <>
Tensor from_vector(const std::vector<bool>& values, const Shape& shape) {
  check<ShapeError>(int64_t(values.size()) == shape_numel(shape), "[from_vector] ", values.size(),
                    " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::boolean);
  for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
  return t;
}

Tensor from_vector(std::initializer_list<float> values, const Shape& shape) {
  return from_vector(std::vector<float>(values), shape);
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> owner) {
  auto impl = std::make_shared<TensorImpl>();
  size_t nbytes = size_t(shape_numel(shape)) * dtype_size(dtype);
  // A null owner means "borrowed for the caller's scope": keep a non-null token so the
  // storage never frees memory it does not own.
  if (!owner) owner = std::make_shared<int>(0);
  impl->storage = std::make_shared<Storage>(data, nbytes, Device::cpu(), std::move(owner));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}
void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

namespace {
template <typename Draw>
Tensor random_tensor(const Shape& shape, DType dtype, Generator& gen, Draw draw) {
  check<DTypeError>(is_floating(dtype), "[random] needs a floating dtype, got ", dtype_name(dtype));
  Tensor t = empty(shape, DType::f64);
  uint64_t seed = gen.seed(), base = gen.advance(uint64_t(t.numel()));
  double* p = t.data<double>();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, t.numel(), 1 << 14),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      for (int64_t i = r.begin(); i < r.end(); ++i) p[i] = draw(seed, base + uint64_t(i));
                    });
  return dtype == DType::f64 ? t : t.to(dtype);
}
}  // namespace

Tensor randn(const Shape& shape, DType dtype, Generator& gen) {
  return random_tensor(shape, dtype, gen, [](uint64_t s, uint64_t i) { return philox_normal(s, i); });
}
Tensor rand(const Shape& shape, DType dtype, Generator& gen) {
  return random_tensor(shape, dtype, gen,
                       [](uint64_t s, uint64_t i) { return double(philox_uniform(s, i)); });
}
Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator& gen) {
  return random_tensor(shape, dtype, gen, [=](uint64_t s, uint64_t i) {
    return low + (high - low) * double(philox_uniform(s, i));
  });
}
Tensor normal(const Shape& shape, double mean, double std, DType dtype, Generator& gen) {
  return random_tensor(shape, dtype, gen,
                       [=](uint64_t s, uint64_t i) { return mean + std * philox_normal(s, i); });
}

}  // namespace engine
