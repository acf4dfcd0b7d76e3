// cross_entropy and its vjp (see loss.h): one fused row kernel for the per-row loss and
// logsumexp; the vjp writes (softmax − smoothed one-hot)·g from the saved logits and lse.
// Logits on a GPU run the fused kernels of backend/cuda/loss.cu in their own dtype (f32 /
// bf16 / f16 storage, f32 compute); the loss stays on the device.
#include "engine/ops/loss.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/rowwise.h"
#include "engine/backend/cuda/cuda_loss.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"
#include "engine/ops/autocast.h"
#include "engine/ops/convert.h"

namespace engine {
namespace {

Tensor contiguous_as(const Tensor& t, DType dt) {
  NoGradGuard no_grad;
  return to_dtype(t, dt).contiguous();
}

void check_args(const Tensor& logits, const Tensor& targets, double eps) {
  if (!logits.device().is_cpu()) cuda::require("cross_entropy", logits.device());
  else check<NoKernelError>(targets.device().is_cpu(), "[cross_entropy] cpu logits with targets on ",
                            targets.device().str());
  check<ShapeError>(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0),
                    "[cross_entropy] expects logits [N,C] and targets [N], got ",
                    shape_str(logits.shape()), " and ", shape_str(targets.shape()));
  check<DTypeError>(targets.dtype() == DType::i64 || targets.dtype() == DType::i32,
                    "[cross_entropy] targets must be i64 or i32, got ", dtype_name(targets.dtype()));
  check<ValueError>(eps >= 0 && eps <= 1, "[cross_entropy] label_smoothing must be in [0, 1], got ", eps);
}

// The GPU path: the same maths in backend/cuda/loss.cu, logits kept in their dtype.
Tensor cross_entropy_cuda(const Tensor& logits_in, const Tensor& targets_in, int64_t ignore_index,
                          double label_smoothing, Reduction reduction) {
  const Device dev = logits_in.device();
  Tensor x, t;
  {
    NoGradGuard no_grad;
    x = logits_in.contiguous();  // f64 is refused by the kernels (DTypeError)
    t = to_dtype(targets_in.device() == dev ? targets_in : targets_in.to(dev), DType::i64).contiguous();
  }
  count_kernel("cross_entropy", 4 * x.numel());
  const bool per_row = reduction == Reduction::none;
  auto f = cuda::cross_entropy_forward(x, t, ignore_index, label_smoothing, !per_row, reduction == Reduction::mean);
  const double scale = reduction == Reduction::mean ? 1.0 / double(f.count) : 1.0;
  Tensor out = per_row ? f.rows : f.total;
  if (out.dtype() != logits_in.dtype()) out = contiguous_as(out, logits_in.dtype());

  autograd::Recorder rec("cross_entropy", {logits_in});
  if (!rec) return out;
  rec.save({x, t, f.lse});
  const cpu::CrossEntropyOptions opt{ignore_index, label_smoothing};
  return rec.finish(out, [opt, per_row, scale](const Tensor& g_in, autograd::Node& n) -> std::vector<Tensor> {
    const Tensor &x = n.saved[0], &t = n.saved[1], &lse = n.saved[2];
    // none: g is [N] (stride 1); mean / sum: one element on the device, scaled in the kernel.
    Tensor g = contiguous_as(g_in, DType::f32);
    count_kernel("cross_entropy", 3 * x.numel());
    Tensor gx = cuda::cross_entropy_backward(x, t, lse, g, per_row ? 1 : 0, per_row ? 1.0 : scale,
                                             opt.ignore_index, opt.label_smoothing);
    return {gx.dtype() == n.out_dtype ? gx : contiguous_as(gx, n.out_dtype)};
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in, int64_t ignore_index,
                     double label_smoothing, Reduction reduction) {
  // Under autocast (ops/autocast.h) losses run in f32, so the loss a GradScaler scales is f32.
  if (Tensor up = autocast_upcast(logits_in); !up.is_same(logits_in))
    return cross_entropy(up, targets_in, ignore_index, label_smoothing, reduction);
  check_args(logits_in, targets_in, label_smoothing);
  if (!logits_in.device().is_cpu())
    return cross_entropy_cuda(logits_in, targets_in, ignore_index, label_smoothing, reduction);
  const DType ct = logits_in.dtype() == DType::f64 ? DType::f64 : DType::f32;
  Tensor x = contiguous_as(logits_in, ct);              // [N,C]
  Tensor t = contiguous_as(targets_in, DType::i64);     // [N]
  const int64_t N = x.size(0), C = x.size(1);
  const cpu::CrossEntropyOptions opt{ignore_index, label_smoothing};
  Tensor rows = empty({N}, ct), lse = empty({N}, ct);
  count_kernel("cross_entropy", 4 * x.numel());
  double total = 0;
  dispatch_compute(ct, "cross_entropy", [&]<typename T>() {
    cpu::cross_entropy_forward<T>(x.data<T>(), t.data<int64_t>(), rows.data<T>(), lse.data<T>(), N, C, opt);
    for (int64_t i = 0; i < N; ++i) total += double(rows.data<T>()[i]);  // in order: deterministic
  });
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) count += t.data<int64_t>()[i] != ignore_index;
  // mean over non-ignored rows; 0/0 = NaN when every row is ignored, as torch.
  const double scale = reduction == Reduction::mean ? 1.0 / double(count) : 1.0;
  Tensor out = reduction == Reduction::none ? rows : scalar(total * scale, ct);
  if (out.dtype() != logits_in.dtype()) out = contiguous_as(out, logits_in.dtype());

  autograd::Recorder rec("cross_entropy", {logits_in});
  if (!rec) return out;
  rec.save({x, t, lse});
  return rec.finish(out, [opt, reduction, scale](const Tensor& g_in, autograd::Node& n) -> std::vector<Tensor> {
    const Tensor &x = n.saved[0], &t = n.saved[1], &lse = n.saved[2];
    const int64_t N = x.size(0), C = x.size(1);
    const bool per_row = reduction == Reduction::none;
    // none: g is [N] (stride 1); mean / sum: one scalar, pre-scaled, broadcast (stride 0).
    Tensor g = per_row ? contiguous_as(g_in, x.dtype()) : scalar(g_in.item<double>() * scale, x.dtype());
    Tensor gx = empty(x.shape(), x.dtype());
    count_kernel("cross_entropy", 3 * x.numel());
    dispatch_compute(x.dtype(), "cross_entropy", [&]<typename T>() {
      cpu::cross_entropy_backward<T>(x.data<T>(), t.data<int64_t>(), lse.data<T>(), g.data<T>(),
                                     per_row ? 1 : 0, gx.data<T>(), N, C, opt);
    });
    return {gx.dtype() == n.out_dtype ? gx : contiguous_as(gx, n.out_dtype)};
  });
}

}  // namespace engine
