// Tensor-level CUDA ops (see cuda_ops.h): layouts and dtype checks around the kernels of
// elementwise.cu / rowwise.cu, and matrix products through cuBLAS (one handle, cuda:0).
// f32 GEMMs use CUBLAS_COMPUTE_32F (no TF32 unless set_allow_tf32) for CPU parity.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_ops.h"

#include <cublas_v2.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <optional>
#include <string_view>
#include <utility>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/kernels.h"
#include "engine/core/counters.h"
#include "engine/core/strided.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"

namespace engine::cuda {
namespace {

#define CUBLAS_CHECK(call)                                                                         \
  do {                                                                                             \
    cublasStatus_t st_ = (call);                                                                   \
    if (st_ != CUBLAS_STATUS_SUCCESS) fail<Error>("[cuda] ", #call, " failed: ", cublasGetStatusString(st_)); \
  } while (0)

std::atomic<bool> tf32_allowed{false};

kernels::Layout layout(const char* op, const Shape& shape, std::initializer_list<Shape> strides) {
  check<ShapeError>(shape.size() <= size_t(kernels::kMaxDims), "[", op, "] cuda kernels take at most ",
                    kernels::kMaxDims, " dims, got ", shape_str(shape));
  kernels::Layout l;
  l.ndim = int(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) l.shape[d] = shape[d];
  int k = 0;
  for (const Shape& s : strides) {
    for (size_t d = 0; d < s.size(); ++d) l.stride[k][d] = s[d];
    ++k;
  }
  return l;
}

void check_f32(const char* op, std::initializer_list<Tensor> ts) {
  for (const Tensor& t : ts)
    if (t.defined())
      check<DTypeError>(t.dtype() == DType::f32, "[", op, "] cuda kernels compute in f32, got ", dtype_name(t.dtype()),
                        " (f64 is CPU-only)");
}

float* fptr(const Tensor& t) { return t.defined() ? static_cast<float*>(t.raw_data()) : nullptr; }

// A binary operand on `dev` in f32: a one-element host tensor (a scalar) is copied over.
Tensor operand(const char* op, const Tensor& t, Device dev) {
  check<DTypeError>(t.dtype() != DType::f64, "[", op, "] cuda kernels compute in f32, got f64 (CPU-only)");
  Tensor d = t;
  if (t.device().is_cpu()) {
    check<NoKernelError>(t.numel() == 1, "[", op, "] mixes a ", dev.str(), " tensor with a cpu tensor of shape ",
                         shape_str(t.shape()));
    d = empty(t.shape(), t.dtype(), dev);
    copy_tensor(d, t);
  }
  check<NoKernelError>(d.device() == dev, "[", op, "] operands on ", d.device().str(), " and ", dev.str());
  return to_dtype(d, DType::f32);
}

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t made = nullptr;
    CUBLAS_CHECK(cublasCreate(&made));
    CUBLAS_CHECK(cublasSetStream(made, 0));  // the stream every kernel and the allocator use
    return made;
  }();
  return h;
}

// The one stride s with batch element b at b·s (row-major over `sizes`), if there is one.
std::optional<int64_t> uniform_stride(const Shape& strides, const Shape& sizes) {
  int64_t s = -1, inner = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] != 1) {
      if (s < 0) s = strides[d];
      else if (strides[d] != s * inner) return std::nullopt;
    }
    inner *= sizes[d];
  }
  return s < 0 ? 0 : s;
}

// A row-major [.., R, C] operand as cuBLAS reads it: the column-major C×R matrix (its
// transpose) either in place (op N, ld = row stride) or as a column-major R×C one (op T).
struct GemmOperand {
  Tensor t;
  cublasOperation_t op = CUBLAS_OP_N;
  int64_t ld = 0, batch_stride = 0;
};

bool read_in_place(const Tensor& t, GemmOperand& g) {
  int64_t R = t.size(-2), C = t.size(-1), sr = t.stride(-2), sc = t.stride(-1);
  if (sc == 1 && sr >= std::max<int64_t>(1, C)) return g.op = CUBLAS_OP_N, g.ld = sr, true;
  if (sr == 1 && sc >= std::max<int64_t>(1, R)) return g.op = CUBLAS_OP_T, g.ld = sc, true;
  return false;
}

GemmOperand prepare(const Tensor& x, const Shape& batch) {
  GemmOperand g{x};
  if (!read_in_place(g.t, g)) g.t = x.contiguous(), read_in_place(g.t, g);
  Shape xb(g.t.shape().begin(), g.t.shape().end() - 2), xs(g.t.strides().begin(), g.t.strides().end() - 2);
  auto s = uniform_stride(broadcast_strides(xb, xs, batch), batch);
  if (!s) {  // batch dims no single stride can walk: materialise the broadcast batch
    Shape full = batch;
    full.push_back(x.size(-2));
    full.push_back(x.size(-1));
    g.t = expand(g.t, full).contiguous();
    read_in_place(g.t, g);
    s = x.size(-2) * x.size(-1);
  }
  g.batch_stride = *s;
  return g;
}

}  // namespace

void require(const char* op, Device device) {
  check<NoKernelError>(available(), "[", op, "] no CUDA device is present for a ", device.str(), " tensor");
  check<NoKernelError>(device.index == 0, "[", op, "] only cuda:0 has kernels so far, got ", device.str());
}

void set_allow_tf32(bool on) { tf32_allowed = on; }

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
  auto l = layout("copy_", dst.shape(), {dst.strides(), broadcast_strides(src.shape(), src.strides(), dst.shape())});
  kernels::copy(dst.raw_data(), int(dst.dtype()), src.raw_data(), int(src.dtype()), l, dst.numel());
}

void fill_tensor(const Tensor& dst, double value) {
  require("fill_", dst.device());
  auto l = layout("fill_", dst.shape(), {dst.strides()});
  kernels::fill(dst.raw_data(), int(dst.dtype()), value, l, dst.numel());
}

Tensor binary(const char* op, const Tensor& a, const Tensor& b) {
  static const std::pair<std::string_view, kernels::BinOp> kOps[] = {
      {"add", kernels::BinOp::Add}, {"sub", kernels::BinOp::Sub}, {"mul", kernels::BinOp::Mul}, {"div", kernels::BinOp::Div}};
  const auto* found = std::find_if(std::begin(kOps), std::end(kOps), [&](const auto& p) { return p.first == op; });
  Device dev = a.device().is_cpu() ? b.device() : a.device();
  check<NoKernelError>(found != std::end(kOps), "no ", dev.str(), " kernel for ", op);
  require(op, dev);
  NoGradGuard no_grad;
  Tensor x = operand(op, a, dev), y = operand(op, b, dev);
  Shape shape = broadcast_shapes(x.shape(), y.shape(), op);
  Tensor out = empty(shape, DType::f32, dev);
  auto l = layout(op, shape, {out.strides(), broadcast_strides(x.shape(), x.strides(), shape),
                              broadcast_strides(y.shape(), y.strides(), shape)});
  kernels::binary(found->second, fptr(out), fptr(x), fptr(y), l, out.numel());
  return out;
}

void unary_forward(cpu::Unary op, const Tensor& x, const Tensor& y) {
  require(cpu::unary_name(op), x.device());
  check_f32(cpu::unary_name(op), {x, y});
  kernels::unary_forward(op, fptr(x), fptr(y), x.numel());
}

void unary_backward(cpu::Unary op, const Tensor& x, const Tensor& y, const Tensor& gy, const Tensor& gx) {
  require(cpu::unary_name(op), gy.device());
  check_f32(cpu::unary_name(op), {x, y, gy, gx});
  kernels::unary_backward(op, fptr(x), fptr(y), fptr(gy), fptr(gx), gy.numel());
}

Tensor sum_dims(const char* op, const Tensor& x, const std::vector<bool>& reduce) {
  require(op, x.device());
  check_f32(op, {x});
  Shape kept, kept_st, red, red_st;
  for (size_t d = 0; d < reduce.size(); ++d) {
    (reduce[d] ? red : kept).push_back(x.shape()[d]);
    (reduce[d] ? red_st : kept_st).push_back(x.strides()[d]);
  }
  Tensor out = empty(kept, DType::f32, x.device());
  count_kernel(op, x.numel());
  kernels::sum(fptr(x), fptr(out), layout(op, kept, {kept_st}), out.numel(), layout(op, red, {red_st}),
               shape_numel(red));
  return out;
}

void softmax_forward(const Tensor& x, const Tensor& y, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  require(op, x.device());
  check_f32(op, {x, y});
  const int64_t C = x.size(-1);
  kernels::softmax_forward(fptr(x), fptr(y), C ? x.numel() / C : 0, C, log);
}

void softmax_backward(const Tensor& y, const Tensor& gy, const Tensor& gx, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  require(op, y.device());
  check_f32(op, {y, gy, gx});
  const int64_t C = y.size(-1);
  kernels::softmax_backward(fptr(y), fptr(gy), fptr(gx), C ? y.numel() / C : 0, C, log);
}

void norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                  const Tensor& mean, const Tensor& rstd, bool center) {
  const char* op = center ? "layer_norm" : "rms_norm";
  require(op, x.device());
  check_f32(op, {x, gamma, beta, y, mean, rstd});
  const int64_t C = x.size(-1);
  kernels::norm_forward(fptr(x), fptr(gamma), fptr(beta), eps, fptr(y), fptr(mean), fptr(rstd), C ? x.numel() / C : 0,
                        C, center);
}

void norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd, const Tensor& gy,
                   const Tensor& gx, const Tensor& dgamma, const Tensor& dbeta, bool center) {
  const char* op = center ? "layer_norm" : "rms_norm";
  require(op, gy.device());
  check_f32(op, {x, gamma, mean, rstd, gy, gx, dgamma, dbeta});
  const int64_t C = gy.size(-1);
  kernels::norm_backward(fptr(x), fptr(gamma), fptr(mean), fptr(rstd), fptr(gy), fptr(gx), fptr(dgamma),
                         fptr(dbeta), C ? gy.numel() / C : 0, C, center);
}

void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  require(name, out.device());
  check_f32(name, {a, b, out});
  check<NoKernelError>(a.device() == out.device() && b.device() == out.device(), "[", name, "] operands on ",
                       a.device().str(), " and ", b.device().str(), ", output on ", out.device().str());
  check<ValueError>(out.is_contiguous(), "[", name, "] needs a contiguous output");
  NoGradGuard no_grad;
  const int64_t M = out.size(-2), N = out.size(-1), K = a.size(-1);
  Shape batch(out.shape().begin(), out.shape().end() - 2);
  const int64_t nb = shape_numel(batch);
  if (out.numel() == 0) return;
  if (K == 0) {
    if (!accumulate) fill_tensor(out, 0.0);
    return;
  }
  check<ShapeError>(M < INT_MAX && N < INT_MAX && K < INT_MAX && nb < INT_MAX, "[", name, "] dims too large for cuBLAS: ",
                    shape_str(a.shape()), " @ ", shape_str(b.shape()));
  GemmOperand ga = prepare(a, batch), gb = prepare(b, batch);
  // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: B goes first.
  const float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
  count_kernel(name, 2 * M * N * K * nb);
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      handle(), gb.op, ga.op, int(N), int(M), int(K), &alpha, fptr(gb.t), CUDA_R_32F, int(gb.ld), gb.batch_stride,
      fptr(ga.t), CUDA_R_32F, int(ga.ld), ga.batch_stride, &beta, fptr(out), CUDA_R_32F, int(N), M * N, int(nb),
      tf32_allowed ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
