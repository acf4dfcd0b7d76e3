// Tensor-level fused cross-entropy on a GPU (see cuda_loss.h): device buffers, the kernels of
// loss.cu, and one 24-byte read back per forward (count, first bad row, its target) so that a
// bad target is a typed error rather than a silent NaN.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_loss.h"

#include <climits>

#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/backend/cuda/loss_kernels.h"

namespace engine::cuda {
namespace {

void check_inputs(const Tensor& x, const Tensor& t) {
  require("cross_entropy", x.device());
  check<DTypeError>(x.dtype() == DType::f32 || x.dtype() == DType::bf16 || x.dtype() == DType::f16,
                    "[cross_entropy] cuda kernels take f32, bf16 or f16 logits, got ", dtype_name(x.dtype()));
  check<NoKernelError>(t.device() == x.device(), "[cross_entropy] logits on ", x.device().str(), ", targets on ",
                       t.device().str());
  check<ValueError>(x.is_contiguous() && t.is_contiguous() && t.dtype() == DType::i64,
                    "[cross_entropy] cuda kernels take contiguous logits and i64 targets");
  check<ShapeError>(x.size(0) < INT_MAX, "[cross_entropy] too many rows for one grid: ", shape_str(x.shape()));
}

}  // namespace

CrossEntropyForward cross_entropy_forward(const Tensor& x, const Tensor& t, int64_t ignore_index,
                                          double label_smoothing, bool reduce, bool mean) {
  check_inputs(x, t);
  const int64_t N = x.size(0), C = x.size(1);
  const Device dev = x.device();
  CrossEntropyForward f;
  f.rows = empty({N}, DType::f32, dev);
  f.lse = empty({N}, DType::f32, dev);
  if (reduce) f.total = empty({}, DType::f32, dev);
  Tensor info = empty({3}, DType::i64, dev);
  kernels::xent_forward(x.raw_data(), int(x.dtype()), t.data<int64_t>(), f.rows.data<float>(), f.lse.data<float>(),
                        N, C, ignore_index, label_smoothing);
  kernels::xent_reduce(f.rows.data<float>(), t.data<int64_t>(), N, C, ignore_index, mean,
                       reduce ? f.total.data<float>() : nullptr, info.data<int64_t>());
  int64_t host[3] = {0, -1, 0};
  copy_bytes(host, Device::cpu(), info.raw_data(), dev, sizeof host);  // synchronises stream 0
  if (host[1] >= 0)
    fail<IndexError>("[cross_entropy] target ", host[2], " at row ", host[1], " is outside [0, ", C,
                     ") (ignore_index ", ignore_index, ")");
  f.count = host[0];
  return f;
}

Tensor cross_entropy_backward(const Tensor& x, const Tensor& t, const Tensor& lse, const Tensor& g, int64_t g_stride,
                              double g_scale, int64_t ignore_index, double label_smoothing) {
  check_inputs(x, t);
  check<ValueError>(g.dtype() == DType::f32 && g.device() == x.device() && g.is_contiguous() &&
                        lse.dtype() == DType::f32 && lse.device() == x.device(),
                    "[cross_entropy] backward takes f32 g and lse on the logits' device");
  const int64_t N = x.size(0), C = x.size(1);
  Tensor gx = empty(x.shape(), x.dtype(), x.device());
  kernels::xent_backward(x.raw_data(), int(x.dtype()), t.data<int64_t>(), lse.data<float>(), g.data<float>(), g_stride,
                         g_scale, gx.raw_data(), N, C, ignore_index, label_smoothing);
  return gx;
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
