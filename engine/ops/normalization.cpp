// softmax / log_softmax / layer_norm / rms_norm and their vjps (see normalization.h). Each op
// brings its input to contiguous rows of its compute dtype (f32, or f64 for f64; half types
// upcast on the CPU, read in place by the GPU kernels), runs one row kernel, and saves only
// what the needed gradients read.
#include "engine/ops/normalization.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"
#include "engine/ops/autocast.h"
#include "engine/ops/convert.h"

namespace engine {
namespace {

// t as contiguous rows in dtype ct (undefined stays undefined); optionally with `dim` moved
// last first.
Tensor rows_of(const Tensor& t, DType ct, int64_t dim = -1) {
  if (!t.defined()) return t;
  NoGradGuard no_grad;
  Tensor v = dim == t.dim() - 1 || dim == -1 ? t : t.transpose(dim, -1);
  return to_dtype(v, ct).contiguous();
}

Tensor to_dtype_nograd(const Tensor& t, DType dt) {
  NoGradGuard no_grad;
  return to_dtype(t, dt);
}

template <class T>
const T* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <class T>
T* mut_ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

// A GPU tensor needs a present device; the op then runs the kernels of backend/cuda.
void check_device(const Tensor& x, const char* op) {
  if (!x.device().is_cpu()) cuda::require(op, x.device());
}

// The dtype the row kernels read and write: the CPU computes in f32/f64 (half types upcast);
// the GPU kernels read bf16/f16 rows in place (f32 compute, one rounding per result).
DType row_dtype(DType dt, Device dev) {
  if (!dev.is_cpu() && (dt == DType::bf16 || dt == DType::f16)) return dt;
  return float_compute_dtype(dt);
}

Tensor softmax_impl(const Tensor& x_in, int64_t dim_in, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_device(x_in, op);
  check<ShapeError>(x_in.dim() >= 1, "[", op, "] expects at least 1 dim, got a scalar");
  const int64_t dim = wrap_dim(dim_in, x_in.dim(), op);
  const DType ct = row_dtype(x_in.dtype(), x_in.device());
  Tensor x = rows_of(x_in, ct, dim);  // (..., C) with `dim` last
  const int64_t C = x.size(-1), R = C ? x.numel() / C : 0;
  Tensor y = empty(x.shape(), ct, x.device());
  count_kernel(op, 5 * x.numel());
  if (!x.device().is_cpu()) {
    cuda::softmax_forward(x, y, log);
  } else {
    dispatch_compute(ct, op, [&]<typename T>() {
      if (log) cpu::log_softmax_forward<T>(x.data<T>(), y.data<T>(), R, C);
      else cpu::softmax_forward<T>(x.data<T>(), y.data<T>(), R, C);
    });
  }
  Tensor out = rows_of(y, x_in.dtype(), dim).contiguous();  // back to x's layout and dtype
  autograd::Recorder rec(op, {x_in});
  if (!rec) return out;
  rec.save({y});
  return rec.finish(out, [op, dim, log](const Tensor& g_in, autograd::Node& n) -> std::vector<Tensor> {
    const Tensor& y = n.saved[0];
    Tensor g = rows_of(g_in, y.dtype(), dim);
    Tensor gx = empty(y.shape(), y.dtype(), y.device());
    const int64_t C = y.size(-1), R = C ? y.numel() / C : 0;
    count_kernel(op, 3 * y.numel());
    if (!y.device().is_cpu()) {
      cuda::softmax_backward(y, g, gx, log);
      return {rows_of(gx, n.out_dtype, dim)};
    }
    dispatch_compute(y.dtype(), op, [&]<typename T>() {
      if (log) cpu::log_softmax_backward<T>(y.data<T>(), g.data<T>(), gx.data<T>(), R, C);
      else cpu::softmax_backward<T>(y.data<T>(), g.data<T>(), gx.data<T>(), R, C);
    });
    return {rows_of(gx, n.out_dtype, dim)};
  });
}

// layer_norm (center) and rms_norm (!center): one body, as in the kernels.
Tensor norm_impl(const char* op, const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
                 double eps, bool center) {
  check_device(x_in, op);
  check<ShapeError>(x_in.dim() >= 1, "[", op, "] expects at least 1 dim, got a scalar");
  const int64_t C = x_in.size(-1);
  for (const Tensor* p : {&w_in, &b_in})
    if (p->defined() && p->shape() != Shape{C})
      fail<ShapeError>("[", op, "] weight/bias must be [", C, "] for input ",
                       shape_str(x_in.shape()), ", got ", shape_str(p->shape()));
  const DType ct = row_dtype(x_in.dtype(), x_in.device());
  const DType pt = float_compute_dtype(x_in.dtype());  // γ, β and the statistics: f32 on a GPU
  Tensor x = rows_of(x_in, ct), w = rows_of(w_in, pt), b = rows_of(b_in, pt);
  const int64_t R = C ? x.numel() / C : 0;
  autograd::Recorder rec(op, {x_in, w_in, b_in});
  // Statistics are kept only when some gradient needs them (gx or dweight).
  const bool keep_stats = rec && (rec.needs(0) || rec.needs(1));
  const Device dev = x.device();
  Tensor mean = keep_stats && center ? empty({R}, pt, dev) : Tensor{};
  Tensor rstd = keep_stats ? empty({R}, pt, dev) : Tensor{};
  Tensor y = empty(x.shape(), ct, dev);
  count_kernel(op, 8 * x.numel());
  if (!dev.is_cpu()) cuda::norm_forward(x, w, b, eps, y, mean, rstd, center);
  else dispatch_compute(ct, op, [&]<typename T>() {
    if (center)
      cpu::layer_norm_forward<T>(x.data<T>(), ptr_or_null<T>(w), ptr_or_null<T>(b), eps,
                                 y.data<T>(), mut_ptr_or_null<T>(mean), mut_ptr_or_null<T>(rstd), R, C);
    else
      cpu::rms_norm_forward<T>(x.data<T>(), ptr_or_null<T>(w), eps, y.data<T>(),
                               mut_ptr_or_null<T>(rstd), R, C);
  });
  Tensor out = y.dtype() == x_in.dtype() ? y : to_dtype_nograd(y, x_in.dtype());
  if (!rec) return out;
  rec.save({keep_stats ? x : Tensor{}, rec.needs(0) ? w : Tensor{}, mean, rstd});
  const DType wdt = w_in.defined() ? w_in.dtype() : ct, bdt = b_in.defined() ? b_in.dtype() : ct;
  return rec.finish(out, [op, center, wdt, bdt](const Tensor& g_in, autograd::Node& n) -> std::vector<Tensor> {
    const Tensor &x = n.saved[0], &w = n.saved[1], &mean = n.saved[2], &rstd = n.saved[3];
    const DType ct = row_dtype(n.out_dtype, g_in.device()), pt = float_compute_dtype(n.out_dtype);
    Tensor g = rows_of(g_in, ct);
    const int64_t C = g.size(-1), R = C ? g.numel() / C : 0;
    const Device dev = g.device();
    Tensor gx = n.needs(0) ? empty(g.shape(), ct, dev) : Tensor{};
    Tensor dw = n.needs(1) ? empty({C}, pt, dev) : Tensor{};
    Tensor db = n.needs(2) ? empty({C}, pt, dev) : Tensor{};
    count_kernel(op, 8 * g.numel());
    if (!dev.is_cpu()) cuda::norm_backward(x, w, mean, rstd, g, gx, dw, db, center);
    else dispatch_compute(ct, op, [&]<typename T>() {
      if (center)
        cpu::layer_norm_backward<T>(ptr_or_null<T>(x), ptr_or_null<T>(w), ptr_or_null<T>(mean),
                                    ptr_or_null<T>(rstd), g.data<T>(), mut_ptr_or_null<T>(gx),
                                    mut_ptr_or_null<T>(dw), mut_ptr_or_null<T>(db), R, C);
      else
        cpu::rms_norm_backward<T>(ptr_or_null<T>(x), ptr_or_null<T>(w), ptr_or_null<T>(rstd),
                                  g.data<T>(), mut_ptr_or_null<T>(gx), mut_ptr_or_null<T>(dw), R, C);
    });
    return {gx.defined() ? to_dtype_nograd(gx, n.out_dtype) : gx,
            dw.defined() ? to_dtype_nograd(dw, wdt) : dw, db.defined() ? to_dtype_nograd(db, bdt) : db};
  });
}

}  // namespace

// Under autocast (ops/autocast.h) these run in f32: half inputs are upcast first.
Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(autocast_upcast(x), dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(autocast_upcast(x), dim, true); }

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return norm_impl("layer_norm", autocast_upcast(x), weight, bias, eps, true);
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  return norm_impl("rms_norm", autocast_upcast(x), weight, Tensor{}, eps, false);
}

}  // namespace engine
