// Unary ops on the SIMD kernels of backend/cpu/simd_unary: forward y = f(x); the vjp computes
// gx = gy·f'(x) from whichever of x or y the derivative needs (only that one is saved).
// Strided inputs are made contiguous first; half types compute in f32 and round once (on a GPU
// inside the kernel, which reads and writes bf16/f16 directly). Recording is apart from the
// forward so a fused kernel's output can be recorded as gelu_tanh (unary_record.h).
#include "engine/ops/unary.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/simd_unary.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"
#include "engine/ops/convert.h"
#include "engine/ops/unary_record.h"

namespace engine {
namespace {

using cpu::Unary;

// The dtype the kernel reads and writes: the CPU computes in f32/f64 (half types upcast);
// the GPU kernels read bf16/f16 in place (f32 compute, one rounding), integers go through f32.
DType kernel_dtype(DType dt, Device dev) {
  if (!dev.is_cpu() && (dt == DType::bf16 || dt == DType::f16)) return dt;
  return float_compute_dtype(dt);
}

// x as a contiguous tensor of its kernel dtype (a no-op for contiguous f32/f64, and for
// contiguous bf16/f16 on a GPU).
Tensor compute_view(const Tensor& x) {
  NoGradGuard no_grad;
  return to_dtype(x, kernel_dtype(x.dtype(), x.device())).contiguous();
}

Tensor forward(Unary op, const Tensor& x_in) {
  const char* name = cpu::unary_name(op);
  if (!x_in.device().is_cpu()) cuda::require(name, x_in.device());
  Tensor x = compute_view(x_in);
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  count_kernel(name, x.numel());
  if (!x.device().is_cpu()) {
    cuda::unary_forward(op, x, y);
  } else {
    dispatch_compute(x.dtype(), name, [&]<typename T>() {
      cpu::unary_forward<T>(op, x.data<T>(), y.data<T>(), x.numel());
    });
  }
  if (y.dtype() == x_in.dtype()) return y;
  NoGradGuard no_grad;
  return to_dtype(y, x_in.dtype());
}

// Records y = op(x_in) for a y of x_in's shape and dtype, however it was computed.
Tensor record(Unary op, const Tensor& x_in, const Tensor& y) {
  autograd::Recorder rec(cpu::unary_name(op), {x_in});
  if (!rec) return y;
  rec.save({cpu::unary_grad_needs_input(op) ? x_in : Tensor{},
            cpu::unary_grad_needs_output(op) ? y : Tensor{}});
  return rec.finish(y, [op](const Tensor& g_in, autograd::Node& n) -> std::vector<Tensor> {
    const char* name = cpu::unary_name(op);
    const DType ct = kernel_dtype(n.out_dtype, g_in.device());  // x and y share the output's dtype
    Tensor x = n.saved[0].defined() ? compute_view(n.saved[0]) : Tensor{};
    Tensor y = n.saved[1].defined() ? compute_view(n.saved[1]) : Tensor{};
    Tensor g;
    {
      NoGradGuard no_grad;
      g = to_dtype(g_in, ct).contiguous();
    }
    Tensor gx = empty(g.shape(), ct, g.device());
    count_kernel(name, g.numel());
    if (!g.device().is_cpu()) {
      cuda::unary_backward(op, x, y, g, gx);
    } else {
      dispatch_compute(ct, name, [&]<typename T>() {
        cpu::unary_backward<T>(op, x.defined() ? x.data<T>() : nullptr,
                               y.defined() ? y.data<T>() : nullptr, g.data<T>(), gx.data<T>(),
                               g.numel());
      });
    }
    if (gx.dtype() == n.out_dtype) return {gx};
    NoGradGuard no_grad;
    return {to_dtype(gx, n.out_dtype)};
  });
}

Tensor apply(Unary op, const Tensor& x_in) { return record(op, x_in, forward(op, x_in)); }

}  // namespace

namespace detail {

Tensor record_gelu_tanh(const Tensor& x, const Tensor& y) {
  check<ValueError>(y.shape() == x.shape() && y.dtype() == x.dtype(), "[gelu_tanh] a precomputed output ",
                    shape_str(y.shape()), " ", dtype_name(y.dtype()), " must match its input ", shape_str(x.shape()),
                    " ", dtype_name(x.dtype()));
  return record(Unary::GeluTanh, x, y);
}

}  // namespace detail

Tensor neg(const Tensor& x) { return apply(Unary::Neg, x); }
Tensor exp(const Tensor& x) { return apply(Unary::Exp, x); }
Tensor log(const Tensor& x) { return apply(Unary::Log, x); }
Tensor sqrt(const Tensor& x) { return apply(Unary::Sqrt, x); }
Tensor rsqrt(const Tensor& x) { return apply(Unary::Rsqrt, x); }
Tensor abs(const Tensor& x) { return apply(Unary::Abs, x); }
Tensor square(const Tensor& x) { return apply(Unary::Square, x); }
Tensor tanh(const Tensor& x) { return apply(Unary::Tanh, x); }
Tensor sigmoid(const Tensor& x) { return apply(Unary::Sigmoid, x); }
Tensor relu(const Tensor& x) { return apply(Unary::Relu, x); }
Tensor gelu(const Tensor& x) { return apply(Unary::Gelu, x); }
Tensor gelu_tanh(const Tensor& x) { return apply(Unary::GeluTanh, x); }
Tensor silu(const Tensor& x) { return apply(Unary::Silu, x); }

}  // namespace engine
