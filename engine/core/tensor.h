// Tensor: a cheap handle (one shared_ptr) to a TensorImpl, which views shared, reference-
// counted Storage through shape, strides (in elements) and an offset. Copying a Tensor
// copies the handle; views (reshape, permute, narrow, ...) make a new TensorImpl over the
// same storage. Autograd state lives on the impl: requires_grad, the node that produced it
// (grad_fn, null for leaves), the accumulated gradient, and an optional gradient mask.
#pragma once
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/core/storage.h"

namespace engine {

using Shape = std::vector<int64_t>;

namespace autograd {
struct Node;
}
struct GradMask;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape, strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  std::shared_ptr<TensorImpl> grad;         // accumulated gradient of a leaf
  std::shared_ptr<GradMask> grad_mask;      // restricts which entries of a leaf train
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- metadata
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t dim() const { return int64_t(impl_->shape.size()); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const;
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }

  // ---- data access (CPU tensors)
  void* raw_data() const;  // address of element 0 (offset applied)
  template <typename T>
  T* data() const {
    check<DTypeError>(dtype_v<T> == dtype(), "data<", dtype_name(dtype_v<T>), ">() on a ",
                      dtype_name(dtype()), " tensor");
    return static_cast<T*>(raw_data());
  }
  template <typename T>
  T item() const;  // a one-element tensor's value, converted to T
  template <typename T>
  std::vector<T> to_vector() const;  // all elements in row-major order, converted to T

  // ---- autograd
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);  // leaves only
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl_->grad_fn; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  // Backpropagates from this tensor: a scalar with an implicit gradient of 1, or any
  // tensor with an explicit gradient of the same shape.
  void backward(const Tensor& gradient = {}, bool retain_graph = false) const;
  Tensor detach() const;  // same storage, no autograd history, requires_grad false

  // ---- views and conversions (ops/shape.h, ops/convert.h)
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;  // like reshape, but never copies
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(-2, -1); }
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor clone() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Strides of a row-major (C-contiguous) layout.
Shape contiguous_strides(const Shape& shape);
int64_t shape_numel(const Shape& shape);
// Normalises a possibly negative dim against `ndim` (error names the op).
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// ---- creation (core/creation.cpp)
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
Tensor scalar(double value, DType dtype = DType::f32);
Tensor arange(int64_t start, int64_t end, int64_t step = 1, DType dtype = DType::i64);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);
Tensor from_vector(std::initializer_list<float> values, const Shape& shape);
// A view over memory owned by someone else (e.g. an mmap): no copy; `owner` keeps it alive.
Tensor from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> owner);

// Seeded counter-based random numbers (Philox): element i of a draw depends only on
// (seed, offset + i), never on the number of threads. A Generator hands out offsets.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }
  uint64_t advance(uint64_t n) { uint64_t o = offset_; offset_ += n; return o; }
 private:
  uint64_t seed_ = 0, offset_ = 0;
};
Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator& gen = default_generator());
Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator& gen = default_generator());  // U[0,1)
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32,
               Generator& gen = default_generator());
Tensor normal(const Shape& shape, double mean, double std, DType dtype = DType::f32,
              Generator& gen = default_generator());

// Copies src into dst in place (shapes broadcast to dst, dtypes converted); no autograd.
void copy_(const Tensor& dst, const Tensor& src);
// Fills dst with a value in place; no autograd.
void fill_(const Tensor& dst, double value);

std::string to_string(const Tensor& t, int64_t max_elements = 16);  // for messages and debugging

}  // namespace engine
