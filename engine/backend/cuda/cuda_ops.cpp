// Tensor-level CUDA ops (see cuda_ops.h): devices, dtypes and layouts around the kernels of
// elementwise.cu, binary.cu, reduce.cu and rowwise.cu. Matrix products live in gemm.cpp.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_ops.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/layout.h"
#include "engine/core/counters.h"
#include "engine/core/strided.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"

namespace engine::cuda {
namespace {

// The kernels' Layout over `shape` with one stride list per operand, dims merged (layout.h).
kernels::Layout layout(const char* op, const Shape& shape, std::initializer_list<Shape> strides) {
  kernels::Layout l;
  check<ShapeError>(kernels::build_layout(l, shape, strides), "[", op, "] cuda kernels take at most ",
                    kernels::kMaxDims, " non-mergeable dims, got ", shape_str(shape));
  return l;
}

Shape bstrides(const Tensor& t, const Shape& shape) { return broadcast_strides(t.shape(), t.strides(), shape); }

bool is_float_kernel_dtype(DType d) { return d == DType::f32 || d == DType::bf16 || d == DType::f16; }

// Every defined tensor on `dev` with dtype `dt` (one of the float kernel dtypes).
void check_tensors(const char* op, Device dev, DType dt, std::initializer_list<Tensor> ts) {
  check<DTypeError>(is_float_kernel_dtype(dt), "[", op, "] cuda kernels take f32, bf16 or f16, got ", dtype_name(dt),
                    " (f64 is CPU-only)");
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    check<NoKernelError>(t.device() == dev, "[", op, "] operands on ", t.device().str(), " and ", dev.str());
    check<DTypeError>(t.dtype() == dt, "[", op, "] cuda operands must share one dtype: ", dtype_name(t.dtype()),
                      " and ", dtype_name(dt));
  }
}

void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
const float* f32ptr(const Tensor& t) { return static_cast<const float*>(ptr(t)); }

// Scratch device memory for a kernel (undefined when none is needed), from the pooled allocator:
// freed after the launches queued on its stream.
Tensor workspace(int64_t bytes, Device dev) { return bytes > 0 ? empty({bytes}, DType::boolean, dev) : Tensor{}; }

Device device_of(std::initializer_list<Tensor> ts) {
  for (const Tensor& t : ts)
    if (!t.device().is_cpu()) return t.device();
  return Device::cpu();
}

// An operand on `dev` in dtype dt. A one-element host tensor (a scalar) is materialised there
// by a fill kernel (no host-to-device copy); other host tensors are refused.
Tensor operand(const char* op, const Tensor& t, Device dev, DType dt) {
  if (t.device().is_cpu()) {
    check<NoKernelError>(t.numel() == 1, "[", op, "] mixes a ", dev.str(), " tensor with a cpu tensor of shape ",
                         shape_str(t.shape()));
    Tensor d = empty(t.shape(), dt, dev);
    if (t.dtype() == DType::i64) copy_tensor(d, t);  // exact beyond 2^53
    else fill_tensor(d, to_dtype(t, DType::f64).data<double>()[0]);
    return d;
  }
  check<NoKernelError>(t.device() == dev, "[", op, "] operands on ", t.device().str(), " and ", dev.str());
  return to_dtype(t, dt);
}

template <typename E, size_t N>
E lookup(const std::pair<std::string_view, E> (&table)[N], const char* op, Device dev) {
  for (const auto& [name, e] : table)
    if (name == op) return e;
  fail<NoKernelError>("[", op, "] no ", dev.str(), " kernel for ", op);
}

// Kept and reduced dims of x (flags), each as a shape and x's strides over it.
struct Split {
  Shape kept, kept_st, red, red_st;
};
Split split_dims(const Tensor& x, const std::vector<bool>& reduce) {
  Split s;
  for (size_t d = 0; d < reduce.size(); ++d) {
    (reduce[d] ? s.red : s.kept).push_back(x.shape()[d]);
    (reduce[d] ? s.red_st : s.kept_st).push_back(x.strides()[d]);
  }
  return s;
}

}  // namespace

void require(const char* op, Device device) {
  check<NoKernelError>(available(), "[", op, "] no CUDA device is present for a ", device.str(), " tensor");
  check<NoKernelError>(device.index == 0, "[", op, "] only cuda:0 has kernels so far, got ", device.str());
}

void copy_tensor(const Tensor& dst, const Tensor& src) {
  NoGradGuard no_grad;
  if (src.device().is_cpu()) {  // host → device: stage the bytes, then convert on the GPU
    require("copy_", dst.device());
    Tensor h = src.contiguous(), d = empty(h.shape(), h.dtype(), dst.device());
    copy_bytes(d.raw_data(), d.device(), h.raw_data(), h.device(), h.nbytes());
    return copy_tensor(dst, d);
  }
  if (dst.device().is_cpu()) {  // device → host: convert on the GPU, then copy the bytes
    require("copy_", src.device());
    Tensor d = empty(dst.shape(), dst.dtype(), src.device()), h = empty(dst.shape(), dst.dtype());
    copy_tensor(d, src);
    copy_bytes(h.raw_data(), h.device(), d.raw_data(), d.device(), d.nbytes());
    return engine::copy_(dst, h);
  }
  require("copy_", dst.device());
  check<NoKernelError>(dst.device() == src.device(), "[copy_] between ", src.device().str(), " and ",
                       dst.device().str());
  auto l = layout("copy_", dst.shape(), {dst.strides(), bstrides(src, dst.shape())});
  kernels::copy(dst.raw_data(), int(dst.dtype()), src.raw_data(), int(src.dtype()), l, dst.numel());
}

void fill_tensor(const Tensor& dst, double value) {
  require("fill_", dst.device());
  auto l = layout("fill_", dst.shape(), {dst.strides()});
  kernels::fill(dst.raw_data(), int(dst.dtype()), value, l, dst.numel());
}

Tensor binary(const char* op, const Tensor& a, const Tensor& b) {
  using B = kernels::BinOp;
  static const std::pair<std::string_view, B> kOps[] = {{"add", B::Add}, {"sub", B::Sub},     {"mul", B::Mul},
                                                        {"div", B::Div}, {"pow", B::Pow},     {"maximum", B::Max},
                                                        {"minimum", B::Min}};
  const Device dev = device_of({a, b});
  const B kop = lookup(kOps, op, dev);
  require(op, dev);
  NoGradGuard no_grad;
  const DType dt = promote(a.dtype(), b.dtype());
  Tensor x = operand(op, a, dev, dt), y = operand(op, b, dev, dt);
  Shape shape = broadcast_shapes(x.shape(), y.shape(), op);
  Tensor out = empty(shape, dt, dev);
  auto l = layout(op, shape, {out.strides(), bstrides(x, shape), bstrides(y, shape)});
  kernels::binary(kop, int(dt), out.raw_data(), x.raw_data(), y.raw_data(), l, out.numel());
  return out;
}

Tensor compare(const char* op, const Tensor& a, const Tensor& b) {
  using C = kernels::CmpOp;
  static const std::pair<std::string_view, C> kOps[] = {{"eq", C::Eq}, {"ne", C::Ne}, {"lt", C::Lt}, {"le", C::Le},
                                                        {"gt", C::Gt}, {"ge", C::Ge}, {"logical_and", C::And}};
  const Device dev = device_of({a, b});
  const C kop = lookup(kOps, op, dev);
  require(op, dev);
  NoGradGuard no_grad;
  const DType dt = promote(a.dtype(), b.dtype());
  Tensor x = operand(op, a, dev, dt), y = operand(op, b, dev, dt);
  Shape shape = broadcast_shapes(x.shape(), y.shape(), op);
  Tensor out = empty(shape, DType::boolean, dev);
  auto l = layout(op, shape, {out.strides(), bstrides(x, shape), bstrides(y, shape)});
  kernels::compare(kop, int(dt), static_cast<bool*>(out.raw_data()), x.raw_data(), y.raw_data(), l, out.numel());
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const Device dev = device_of({cond, a, b});
  require("where", dev);
  NoGradGuard no_grad;
  const DType dt = promote(a.dtype(), b.dtype());
  Tensor c = operand("where", cond, dev, DType::boolean), x = operand("where", a, dev, dt),
         y = operand("where", b, dev, dt);
  Shape shape = broadcast_shapes(broadcast_shapes(c.shape(), x.shape(), "where"), y.shape(), "where");
  Tensor out = empty(shape, dt, dev);
  auto l = layout("where", shape, {out.strides(), bstrides(c, shape), bstrides(x, shape), bstrides(y, shape)});
  kernels::where(int(dt), out.raw_data(), static_cast<const bool*>(c.raw_data()), x.raw_data(), y.raw_data(), l,
                 out.numel());
  return out;
}

void unary_forward(cpu::Unary op, const Tensor& x, const Tensor& y) {
  const char* name = cpu::unary_name(op);
  require(name, x.device());
  check_tensors(name, x.device(), x.dtype(), {x, y});
  check<ValueError>(x.is_contiguous() && y.is_contiguous(), "[", name, "] cuda kernel needs contiguous tensors");
  kernels::unary_forward(op, int(x.dtype()), x.raw_data(), y.raw_data(), x.numel());
}

void unary_backward(cpu::Unary op, const Tensor& x, const Tensor& y, const Tensor& gy, const Tensor& gx) {
  const char* name = cpu::unary_name(op);
  require(name, gy.device());
  check_tensors(name, gy.device(), gy.dtype(), {x, y, gy, gx});
  for (const Tensor* t : {&x, &y, &gy, &gx})
    check<ValueError>(!t->defined() || t->is_contiguous(), "[", name, "] cuda kernel needs contiguous tensors");
  kernels::unary_backward(op, int(gy.dtype()), ptr(x), ptr(y), gy.raw_data(), gx.raw_data(), gy.numel());
}

Tensor sum_dims(const char* op, const Tensor& x, const std::vector<bool>& reduce, double scale) {
  require(op, x.device());
  const bool integer = !is_floating(x.dtype());  // integers and bool: an exact i64 sum, as the CPU
  if (integer) check<ValueError>(scale == 1.0, "[", op, "] an integer sum cannot be scaled");
  else check_tensors(op, x.device(), x.dtype(), {x});
  Split s = split_dims(x, reduce);
  Tensor out = empty(s.kept, integer ? DType::i64 : x.dtype(), x.device());
  count_kernel(op, x.numel());
  const kernels::Layout kept = layout(op, s.kept, {s.kept_st}), red = layout(op, s.red, {s.red_st});
  const int64_t n_red = shape_numel(s.red);
  Tensor work = workspace(kernels::sum_workspace_bytes(int(x.dtype()), kept, out.numel(), red, n_red), x.device());
  kernels::sum(int(x.dtype()), x.raw_data(), out.raw_data(), scale, kept, out.numel(), red, n_red, ptr(work));
  return out;
}

MaxOut max_dims(const char* op, const Tensor& x, const std::vector<bool>& reduce) {
  require(op, x.device());
  const DType dt = x.dtype();
  check<DTypeError>(is_float_kernel_dtype(dt) || dt == DType::i32 || dt == DType::i64, "[", op,
                    "] cuda max takes f32, bf16, f16, i32 or i64, got ", dtype_name(dt));
  Split s = split_dims(x, reduce);
  const int64_t n_red = shape_numel(s.red);
  MaxOut r{empty(s.kept, dt, x.device()), empty(s.kept, DType::i64, x.device())};
  check<ShapeError>(n_red > 0 || r.values.numel() == 0, "[", op, "] reduces an empty dim of ", shape_str(x.shape()));
  count_kernel(op, x.numel());
  const kernels::Layout kept = layout(op, s.kept, {s.kept_st}), red = layout(op, s.red, {s.red_st});
  Tensor work = workspace(kernels::max_workspace_bytes(kept, r.values.numel(), red, n_red), x.device());
  kernels::max(int(dt), x.raw_data(), r.values.raw_data(), static_cast<int64_t*>(r.indices.raw_data()), kept,
               r.values.numel(), red, n_red, ptr(work));
  return r;
}

void put_along(const Tensor& gx, int64_t dim, const Tensor& idx, const Tensor& g) {
  require("max_backward", gx.device());
  check_tensors("max_backward", gx.device(), gx.dtype(), {gx, g});
  check<DTypeError>(idx.dtype() == DType::i64 && idx.device() == gx.device(), "[max_backward] indices must be i64 on ",
                    gx.device().str());
  check<ValueError>(gx.is_contiguous() && g.is_contiguous() && idx.is_contiguous() && g.numel() == idx.numel(),
                    "[max_backward] cuda kernel needs contiguous gx, g and idx of one shape");
  const Shape& in = gx.shape();
  int64_t outer = 1, inner = 1, n = in.empty() ? 1 : in[size_t(dim)];
  for (int64_t d = 0; d < dim; ++d) outer *= in[size_t(d)];
  for (size_t d = size_t(dim) + 1; d < in.size(); ++d) inner *= in[d];
  check<ShapeError>(outer * inner == g.numel(), "[max_backward] gradient ", shape_str(g.shape()), " does not match ",
                    shape_str(in), " along dim ", dim);
  count_kernel("max_backward", g.numel());
  kernels::put_along(int(gx.dtype()), g.raw_data(), static_cast<const int64_t*>(idx.raw_data()), gx.raw_data(),
                     outer, n, inner);
}

void softmax_forward(const Tensor& x, const Tensor& y, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  require(op, x.device());
  check_tensors(op, x.device(), x.dtype(), {x, y});
  const int64_t C = x.size(-1);
  kernels::softmax_forward(int(x.dtype()), x.raw_data(), y.raw_data(), C ? x.numel() / C : 0, C, log);
}

void softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  require(op, y.device());
  check_tensors(op, y.device(), y.dtype(), {y, gy, gx});
  const int64_t C = y.size(-1);
  kernels::softmax_backward(int(y.dtype()), y.raw_data(), gy.raw_data(), gx.raw_data(), C ? y.numel() / C : 0, C, log);
}

void norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                  const Tensor& mean, const Tensor& rstd, bool center) {
  const char* op = center ? "layer_norm" : "rms_norm";
  require(op, x.device());
  check_tensors(op, x.device(), x.dtype(), {x, y});
  check_tensors(op, x.device(), DType::f32, {gamma, beta, mean, rstd});
  const int64_t C = x.size(-1);
  kernels::norm_forward(int(x.dtype()), x.raw_data(), f32ptr(gamma), f32ptr(beta), eps, y.raw_data(),
                        static_cast<float*>(ptr(mean)), static_cast<float*>(ptr(rstd)), C ? x.numel() / C : 0, C,
                        center);
}

void norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, const Tensor& gy,
                   const Tensor& gx, const Tensor& dgamma, const Tensor& dbeta, bool center) {
  const char* op = center ? "layer_norm" : "rms_norm";
  require(op, gy.device());
  check_tensors(op, gy.device(), gy.dtype(), {x, gy, gx});
  check_tensors(op, gy.device(), DType::f32, {gamma, mean, rstd, dgamma, dbeta});
  const int64_t C = gy.size(-1), R = C ? gy.numel() / C : 0, splits = kernels::norm_param_splits(R, C);
  Tensor work = (dgamma.defined() || dbeta.defined()) && splits > 1 ? empty({2 * C * splits}, DType::f32, gy.device())
                                                                    : Tensor{};
  kernels::norm_backward(int(gy.dtype()), ptr(x), f32ptr(gamma), f32ptr(mean), f32ptr(rstd), gy.raw_data(), ptr(gx),
                         static_cast<float*>(ptr(dgamma)), static_cast<float*>(ptr(dbeta)), R, C, center,
                         static_cast<float*>(ptr(work)));
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
