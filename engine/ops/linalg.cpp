// matmul and linear with their vjps. Both hand strided views straight to the GEMM kernel
// (engine/backend/cpu/gemm.cpp, or cuBLASLt in backend/cuda/gemm.cpp), so transposes in the
// forward and the backward cost no copy. The vjps compute and save only what the inputs that
// need a gradient use: with a frozen weight, linear's backward is one GEMM (dX) and the
// activation x is never saved. On a GPU, bf16/f16 operands go to the tensor cores as they are
// (f32 accumulation, one rounding of the result) and linear's bias rides the GEMM's epilogue;
// on the CPU half operands convert to f32 around the GEMM. Both entry points honour autocast
// (ops/autocast.h): inside an AutocastGuard their inputs are cast to the autocast dtype first.
#include "engine/ops/linalg.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/ops/autocast.h"
#include "engine/ops/convert.h"
#include "engine/ops/gemm_dispatch.h"
#include "engine/ops/shape.h"

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

Tensor linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, WeightLayout layout) {
  gemm::check_device("linear", {x_in, weight_in, bias_in});
  // Under autocast the casts are recorded (to_dtype), so f32 leaves get f32 gradients.
  const Tensor x = autocast_half(x_in), weight = autocast_half(weight_in), bias = autocast_half(bias_in);
  const bool out_in = layout == WeightLayout::out_in;
  check<ShapeError>(weight.dim() == 2 && x.dim() >= 1, "[linear] expects x [..., in] and a 2-d weight; got x ",
                    shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
  const int64_t in = weight.size(out_in ? 1 : 0), out = weight.size(out_in ? 0 : 1);
  check<ShapeError>(x.size(-1) == in, "[linear] input features differ: x ", shape_str(x.shape()),
                    " vs weight ", shape_str(weight.shape()), out_in ? " [out, in]" : " [in, out]");
  check<ShapeError>(!bias.defined() || bias.shape() == Shape{out}, "[linear] bias ",
                    bias.defined() ? shape_str(bias.shape()) : "", " does not match ", out, " outputs");
  DType dt = promote(x.dtype(), weight.dtype());
  if (bias.defined()) dt = promote(dt, bias.dtype());
  const DType ct = gemm_dtype(dt, x.device(), "linear");
  Shape y_shape(x.shape().begin(), x.shape().end() - 1);
  y_shape.push_back(out);

  Tensor y;
  {
    NoGradGuard no_grad;
    Tensor x2 = reshape(to_dtype(x, ct), {-1, in});                      // [N, in]
    Tensor w = to_dtype(weight, ct), wt = out_in ? transpose(w, 0, 1) : w;  // [in, out] view
    Tensor y2 = empty({x2.size(0), out}, ct, x.device());                // [N, out]
    if (!x.device().is_cpu()) {
      cuda::matmul_into("linear", x2, wt, y2, false, bias);  // bias added by the GEMM's epilogue
    } else {
      if (bias.defined()) copy_(y2, to_dtype(bias, ct));  // the GEMM accumulates onto the bias rows
      gemm::matmul_into("linear", x2, wt, y2, bias.defined());
    }
    y = to_dtype(reshape(y2, y_shape), dt);
  }
  Recorder rec("linear", {x, weight, bias});
  if (!rec) return y;
  // dX needs only W; dW needs only x; db needs nothing.
  rec.save({rec.needs(0) ? weight : Tensor{}, rec.needs(1) ? x : Tensor{}});
  Shape xs = x.shape();
  DType dx = x.dtype(), dw = weight.dtype(), dbias = bias.defined() ? bias.dtype() : dt;
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

}  // namespace engine
