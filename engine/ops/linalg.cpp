// matmul and linear with their vjps. Both hand strided views straight to the GEMM kernel
// (engine/backend/cpu/gemm.cpp, or cuBLASLt in backend/cuda/gemm.cpp), so transposes in the
// forward and the backward cost no copy. The vjps compute and save only what the inputs that
// need a gradient use: with a frozen weight, linear's backward is one GEMM (dX) and the
// activation x is never saved. On a GPU, bf16/f16 operands go to the tensor cores as they are
// (f32 accumulation, one rounding of the result) and linear's bias rides the GEMM's epilogue;
// on the CPU half operands convert to f32 around the GEMM. Both entry points honour autocast
// (ops/autocast.h): inside an AutocastGuard their inputs are cast to the autocast dtype first.
// linear is "prepare, compute, record" so that linear_gelu_tanh can record the linear node
// for a pre-activation that a fused GEMM + GELU produced (and gelu_tanh's node after it).
#include "engine/ops/linalg.h"

#include <utility>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/ops/autocast.h"
#include "engine/ops/convert.h"
#include "engine/ops/gemm_dispatch.h"
#include "engine/ops/shape.h"
#include "engine/ops/unary.h"
#include "engine/ops/unary_record.h"

namespace engine {
using autograd::Node;
using autograd::Recorder;
using Grads = std::vector<Tensor>;

namespace {

using gemm::gemm_dtype;
using gemm::mm;
using gemm::mT;
using gemm::reduce_to;
using gemm::sum_dims;

// a [..., M, K] @ b [..., K, N] with broadcast batch dims: the recorded primitive.
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape shape = broadcast_shapes(ab, bb, "matmul");
  shape.push_back(a.size(-2));
  shape.push_back(b.size(-1));
  DType dt = promote(a.dtype(), b.dtype()), ct = gemm_dtype(dt, a.device(), "matmul");
  Tensor out = empty(shape, ct, a.device());
  {
    NoGradGuard no_grad;
    gemm::matmul_into("matmul", to_dtype(a, ct), to_dtype(b, ct), out);
    out = to_dtype(out, dt);
  }
  Recorder rec("matmul", {a, b});
  if (!rec) return out;
  // dA = dC·Bᵀ needs only B; dB = Aᵀ·dC needs only A.
  rec.save({rec.needs(1) ? a : Tensor{}, rec.needs(0) ? b : Tensor{}});
  Shape sa = a.shape(), sb = b.shape();
  DType da = a.dtype(), db = b.dtype();
  return rec.finish(out, [sa, sb, da, db](const Tensor& g, Node& n) -> Grads {
    Tensor ga, gb;
    if (n.needs(0)) ga = to_dtype(reduce_to(matmul_nd(g, mT(n.saved[1])), sa), da);
    if (n.needs(1)) {
      const Tensor& A = n.saved[0];
      if (sb.size() == 2 && A.dim() > 2)  // a shared b: one GEMM over the folded batch
        gb = matmul_nd(mT(reshape(A, {-1, A.size(-1)})), reshape(g, {-1, g.size(-1)}));
      else
        gb = reduce_to(matmul_nd(mT(A), g), sb);
      gb = to_dtype(gb, db);
    }
    return {ga, gb};
  });
}

// A linear layer's operands after autocast and validation, and the dtypes it computes in.
struct LinearArgs {
  Tensor x, weight, bias;
  bool out_in = true;
  int64_t in = 0, out = 0;
  DType dt = DType::f32, ct = DType::f32;  // result dtype; GEMM dtype on this device
  Shape y_shape;
};

LinearArgs prepare_linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, WeightLayout layout) {
  gemm::check_device("linear", {x_in, weight_in, bias_in});
  LinearArgs a;
  // Under autocast the casts are recorded (to_dtype), so f32 leaves get f32 gradients.
  a.x = autocast_half(x_in), a.weight = autocast_half(weight_in), a.bias = autocast_half(bias_in);
  const Tensor &x = a.x, &weight = a.weight, &bias = a.bias;
  a.out_in = layout == WeightLayout::out_in;
  check<ShapeError>(weight.dim() == 2 && x.dim() >= 1, "[linear] expects x [..., in] and a 2-d weight; got x ",
                    shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
  a.in = weight.size(a.out_in ? 1 : 0), a.out = weight.size(a.out_in ? 0 : 1);
  check<ShapeError>(x.size(-1) == a.in, "[linear] input features differ: x ", shape_str(x.shape()),
                    " vs weight ", shape_str(weight.shape()), a.out_in ? " [out, in]" : " [in, out]");
  check<ShapeError>(!bias.defined() || bias.shape() == Shape{a.out}, "[linear] bias ",
                    bias.defined() ? shape_str(bias.shape()) : "", " does not match ", a.out, " outputs");
  a.dt = promote(x.dtype(), weight.dtype());
  if (bias.defined()) a.dt = promote(a.dt, bias.dtype());
  a.ct = gemm_dtype(a.dt, x.device(), "linear");
  a.y_shape = Shape(x.shape().begin(), x.shape().end() - 1);
  a.y_shape.push_back(a.out);
  return a;
}

// The GEMM operands as [N, in] @ [in, out] (views, no copy for either weight layout).
std::pair<Tensor, Tensor> gemm_operands(const LinearArgs& a) {
  Tensor x2 = reshape(to_dtype(a.x, a.ct), {-1, a.in});
  Tensor w = to_dtype(a.weight, a.ct);
  return {x2, a.out_in ? transpose(w, 0, 1) : w};
}

// y = x·W(^T) + b with no autograd.
Tensor compute_linear(const LinearArgs& a) {
  NoGradGuard no_grad;
  auto [x2, wt] = gemm_operands(a);
  Tensor y2 = empty({x2.size(0), a.out}, a.ct, a.x.device());  // [N, out]
  if (!a.x.device().is_cpu()) {
    cuda::matmul_into("linear", x2, wt, y2, false, a.bias);  // bias added by the GEMM's epilogue
  } else {
    if (a.bias.defined()) copy_(y2, to_dtype(a.bias, a.ct));  // the GEMM accumulates onto the bias rows
    gemm::matmul_into("linear", x2, wt, y2, a.bias.defined());
  }
  return to_dtype(reshape(y2, a.y_shape), a.dt);
}

// Records the linear node with output y (computed by compute_linear or a fused kernel).
Tensor record_linear(const LinearArgs& a, const Tensor& y) {
  Recorder rec("linear", {a.x, a.weight, a.bias});
  if (!rec) return y;
  // dX needs only W; dW needs only x; db needs nothing.
  rec.save({rec.needs(0) ? a.weight : Tensor{}, rec.needs(1) ? a.x : Tensor{}});
  const Shape xs = a.x.shape();
  const bool out_in = a.out_in;
  const int64_t in = a.in, out = a.out;
  const DType dx = a.x.dtype(), dw = a.weight.dtype(), dbias = a.bias.defined() ? a.bias.dtype() : a.dt;
  return rec.finish(y, [=](const Tensor& g, Node& n) -> Grads {
    Tensor g2 = reshape(g, {-1, out});  // [N, out]
    Tensor gx, gw, gb;
    if (n.needs(0)) {  // [N, out] @ [out, in]
      const Tensor& w = n.saved[0];
      gx = reshape(mm("linear.dx", g2, out_in ? w : transpose(w, 0, 1), dx), xs);
    }
    if (n.needs(1)) {
      Tensor x2 = reshape(n.saved[1], {-1, in});  // [N, in]
      gw = out_in ? mm("linear.dw", transpose(g2, 0, 1), x2, dw)   // [out, N] @ [N, in]
                  : mm("linear.dw", transpose(x2, 0, 1), g2, dw);  // [in, N] @ [N, out]
    }
    if (n.needs(2)) {
      DType ct2 = g2.dtype() == DType::f64 ? DType::f64 : DType::f32;  // the column sums accumulate in f32
      gb = to_dtype(sum_dims("linear.db", to_dtype(g2, ct2), {true, false}), dbias);
    }
    return {gx, gw, gb};
  });
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  gemm::check_device("matmul", {a_in, b_in});
  const Tensor a = autocast_half(a_in), b = autocast_half(b_in);
  check<ShapeError>(a.dim() >= 1 && b.dim() >= 1, "[matmul] needs operands of at least 1 dim: ",
                    shape_str(a.shape()), " @ ", shape_str(b.shape()));
  int64_t k_b = b.dim() == 1 ? b.size(0) : b.size(-2);
  check<ShapeError>(a.size(-1) == k_b, "[matmul] inner dims differ: ", shape_str(a.shape()), " @ ",
                    shape_str(b.shape()));
  // 1-d operands become a row (a) or a column (b) and the added dim is dropped again.
  Tensor out = matmul_nd(a.dim() == 1 ? unsqueeze(a, 0) : a, b.dim() == 1 ? unsqueeze(b, 1) : b);
  if (a.dim() == 1) out = squeeze(out, -2);
  if (b.dim() == 1) out = squeeze(out, -1);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, WeightLayout layout) {
  const LinearArgs a = prepare_linear(x, weight, bias, layout);
  return record_linear(a, compute_linear(a));
}

Tensor linear_gelu_tanh(const Tensor& x, const Tensor& weight, const Tensor& bias, WeightLayout layout) {
  const LinearArgs a = prepare_linear(x, weight, bias, layout);
  // The CPU has no fused kernel to gain from: the composite itself, rounding for rounding.
  if (a.x.device().is_cpu()) return gelu_tanh(record_linear(a, compute_linear(a)));
  Tensor pre, act;
  {
    NoGradGuard no_grad;
    auto [x2, wt] = gemm_operands(a);  // on a GPU the GEMM dtype is the result dtype (ct == dt)
    Tensor pre2 = empty({x2.size(0), a.out}, a.ct, a.x.device()), act2 = empty(pre2.shape(), a.ct, a.x.device());
    cuda::matmul_into("linear", x2, wt, act2, false, a.bias, pre2);  // act2 = gelu_tanh(pre2), one call
    pre = to_dtype(reshape(pre2, a.y_shape), a.dt);
    act = to_dtype(reshape(act2, a.y_shape), a.dt);
  }
  // The composite's graph: linear → pre → gelu_tanh → act, with gelu_tanh saving pre.
  return detail::record_gelu_tanh(record_linear(a, pre), act);
}

}  // namespace engine
