// Tensor metadata, element access and conversion between dtypes through the strided loop.
#include "engine/core/tensor.h"

#include <sstream>

#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/strided.h"

namespace engine {

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = std::max<int64_t>(ndim, 1);
  check<IndexError>(dim >= -n && dim < n, "[", op, "] dim ", dim, " out of range for a ", ndim,
                    "-d tensor");
  return dim < 0 ? dim + n : dim;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape s(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return s;
}

int64_t Tensor::size(int64_t d) const { return shape()[size_t(wrap_dim(d, dim(), "size"))]; }
int64_t Tensor::stride(int64_t d) const { return strides()[size_t(wrap_dim(d, dim(), "stride"))]; }
int64_t Tensor::numel() const { return shape_numel(shape()); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * int64_t(dtype_size(dtype()));
}

// Converting element copy between any two dtypes, broadcasting src to dst's shape.
void copy_(const Tensor& dst, const Tensor& src) {
  check<ShapeError>(src.dim() <= dst.dim(), "[copy_] cannot broadcast ", shape_str(src.shape()),
                    " to ", shape_str(dst.shape()));
  for (int64_t i = 0; i < src.dim(); ++i) {
    int64_t s = src.shape()[size_t(i)], d = dst.shape()[size_t(dst.dim() - src.dim() + i)];
    check<ShapeError>(s == d || s == 1, "[copy_] cannot broadcast ", shape_str(src.shape()), " to ",
                      shape_str(dst.shape()));
  }
  if (!dst.device().is_cpu() || !src.device().is_cpu()) return cuda::copy_tensor(dst, src);
  auto plan = make_plan<2>(dst.shape(),
                           {dst.strides(), broadcast_strides(src.shape(), src.strides(), dst.shape())});
  dispatch(dst.dtype(), "copy_", [&]<typename D>() {
    dispatch(src.dtype(), "copy_", [&]<typename S>() {
      D* out = dst.data<D>();
      const S* in = src.data<S>();
      for_each_row(plan, [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> st) {
        D* o = out + off[0];
        const S* x = in + off[1];
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) o[i] = D(float_or_same(x[i]));
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = D(float_or_same(x[i * st[1]]));
        }
      });
    });
  });
}

void fill_(const Tensor& dst, double value) {
  if (!dst.device().is_cpu()) return cuda::fill_tensor(dst, value);
  dispatch(dst.dtype(), "fill_", [&]<typename T>() {
    T v = T(static_cast<std::conditional_t<std::is_same_v<T, bool>, bool, double>>(value));
    T* out = dst.data<T>();
    auto plan = make_plan<1>(dst.shape(), {dst.strides()});
    for_each_row(plan, [&](std::array<int64_t, 1> off, int64_t n, std::array<int64_t, 1> st) {
      for (int64_t i = 0; i < n; ++i) out[off[0] + i * st[0]] = v;
    });
  });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor dense = empty(shape(), dtype_v<T>);
  copy_(dense, *this);
  const T* p = dense.data<T>();
  return std::vector<T>(p, p + numel());
}

template <typename T>
T Tensor::item() const {
  check<ShapeError>(numel() == 1, "[item] expects one element, got shape ", shape_str(shape()));
  return to_vector<T>()[0];
}

#define ENGINE_INSTANTIATE(T) \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T Tensor::item<T>() const;
ENGINE_INSTANTIATE(float)
ENGINE_INSTANTIATE(double)
ENGINE_INSTANTIATE(int32_t)
ENGINE_INSTANTIATE(int64_t)
ENGINE_INSTANTIATE(bool)
ENGINE_INSTANTIATE(bf16)
ENGINE_INSTANTIATE(f16)
#undef ENGINE_INSTANTIATE

Tensor& Tensor::requires_grad_(bool on) {
  check<AutogradError>(is_leaf(), "requires_grad_ can only be set on a leaf tensor");
  check<DTypeError>(!on || is_floating(dtype()), "requires_grad on a ", dtype_name(dtype()),
                    " tensor: only floating tensors have gradients");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

std::string to_string(const Tensor& t, int64_t max_elements) {
  if (!t.defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(" << dtype_name(t.dtype()) << shape_str(t.shape()) << ", [";
  std::vector<double> v = t.to(DType::f64).to_vector<double>();
  for (int64_t i = 0; i < std::min<int64_t>(max_elements, int64_t(v.size())); ++i)
    os << (i ? ", " : "") << v[size_t(i)];
  if (int64_t(v.size()) > max_elements) os << ", ...";
  os << "])";
  return os.str();
}

}  // namespace engine
