// lowrank_linear: linear + scale·(x_a Aᵀ) Bᵀ in one recorded op (see lowrank_linear.h). It is
// linalg.cpp's linear with two more GEMMs: the same autocast, dtype promotion, GEMM dtype
// (half types in f32 on the CPU, as they are on a GPU), bias handling (cuBLASLt epilogue on a
// GPU, bias rows + accumulating GEMM on the CPU) and kernel names, so swapping the composite
// for this op changes no counter test. What it removes are the elementwise passes over the
// [N, out] output (scale, add) and over the [N, in] input gradient (add of two dx terms).
#include "engine/ops/lowrank_linear.h"

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/ops/autocast.h"
#include "engine/ops/binary.h"
#include "engine/ops/convert.h"
#include "engine/ops/gemm_dispatch.h"
#include "engine/ops/shape.h"

namespace engine {
using autograd::Node;
using autograd::Recorder;
using Grads = std::vector<Tensor>;

namespace {

constexpr const char* kOp = "lowrank_linear";

// Input positions in the recorded node (x_adapter's slot stays empty when it is x itself).
enum Input : size_t { kX, kW, kBias, kXa, kA, kB };
// Saved-tensor slots: each is filled only when a needed gradient reads it.
enum Slot : size_t { sW, sX, sXa, sA, sB, sHs };

void validate(const Tensor& x, const Tensor& w, const Tensor& bias, bool out_in, const Tensor& xa, const Tensor& A,
              const Tensor& B) {
  check<ShapeError>(w.dim() == 2 && x.dim() >= 1, "[", kOp, "] expects x [..., in] and a 2-d weight; got x ",
                    shape_str(x.shape()), ", weight ", shape_str(w.shape()));
  const int64_t in = w.size(out_in ? 1 : 0), out = w.size(out_in ? 0 : 1);
  check<ShapeError>(x.size(-1) == in, "[", kOp, "] input features differ: x ", shape_str(x.shape()), " vs weight ",
                    shape_str(w.shape()), out_in ? " [out, in]" : " [in, out]");
  check<ShapeError>(!bias.defined() || bias.shape() == Shape{out}, "[", kOp, "] bias ",
                    bias.defined() ? shape_str(bias.shape()) : "", " does not match ", out, " outputs");
  check<ShapeError>(xa.shape() == x.shape(), "[", kOp, "] x_adapter ", shape_str(xa.shape()),
                    " must have x's shape ", shape_str(x.shape()));
  check<ShapeError>(A.dim() == 2 && A.size(0) >= 1 && A.size(1) == in, "[", kOp, "] lora_A must be [r, ", in,
                    "] with r >= 1, got ", shape_str(A.shape()));
  check<ShapeError>(B.dim() == 2 && B.size(0) == out && B.size(1) == A.size(0), "[", kOp, "] lora_B must be [",
                    out, ", ", A.size(0), "] (out, r), got ", shape_str(B.shape()), " with lora_A ",
                    shape_str(A.shape()));
}

}  // namespace

Tensor lowrank_linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in, WeightLayout layout,
                      const Tensor& xa_in, const Tensor& A_in, const Tensor& B_in, double scale) {
  check<ValueError>(x_in.defined() && weight_in.defined() && xa_in.defined() && A_in.defined() && B_in.defined(),
                    "[", kOp, "] x, weight, x_adapter, lora_A and lora_B must be defined");
  gemm::check_device(kOp, {x_in, weight_in, bias_in, xa_in, A_in, B_in});
  // x_adapter *is* x (LoRA without dropout): one autocast cast, one input, and one gradient
  // buffer that both dx GEMMs accumulate into. Only the same handle qualifies: a different
  // view of x has its own graph node and must receive its own gradient.
  const bool shared = xa_in.is_same(x_in);
  const Tensor x = autocast_half(x_in), weight = autocast_half(weight_in), bias = autocast_half(bias_in);
  const Tensor xa = shared ? x : autocast_half(xa_in), A = autocast_half(A_in), B = autocast_half(B_in);
  const bool out_in = layout == WeightLayout::out_in;
  validate(x, weight, bias, out_in, xa, A, B);
  const int64_t in = x.size(-1), out = weight.size(out_in ? 0 : 1), r = A.size(0);
  DType dt = promote(promote(x.dtype(), weight.dtype()), promote(xa.dtype(), promote(A.dtype(), B.dtype())));
  if (bias.defined()) dt = promote(dt, bias.dtype());
  const Device dev = x.device();
  const DType ct = gemm::gemm_dtype(dt, dev, kOp);
  Shape y_shape(x.shape().begin(), x.shape().end() - 1);
  y_shape.push_back(out);

  Tensor y, hs;
  {
    NoGradGuard no_grad;
    Tensor x2 = reshape(to_dtype(x, ct), {-1, in});                         // [N, in]
    Tensor xa2 = shared ? x2 : reshape(to_dtype(xa, ct), {-1, in});         // [N, in]
    Tensor w = to_dtype(weight, ct), wt = out_in ? transpose(w, 0, 1) : w;  // [in, out] view
    const int64_t n = x2.size(0);
    Tensor y2 = empty({n, out}, ct, dev);  // the one [N, out] buffer all three terms land in
    if (!dev.is_cpu()) {
      cuda::matmul_into("linear", x2, wt, y2, false, bias);  // bias added by the GEMM's epilogue
    } else {
      if (bias.defined()) copy_(y2, to_dtype(bias, ct));  // the GEMM accumulates onto the bias rows
      gemm::matmul_into("linear", x2, wt, y2, bias.defined());
    }
    // h = x_a Aᵀ in f32 (cuBLASLt writes an f32 result from half operands), scaled while it
    // is [N, r] and rounded once to the dtype the composite's linear(x_a, A) returns: the
    // value B's GEMM reads and backward saves (so no more bytes are kept than there).
    const DType ht = ct == DType::f64 ? DType::f64 : DType::f32;
    Tensor h = empty({n, r}, ht, dev);
    gemm::matmul_into("linear", xa2, transpose(to_dtype(A, ct), 0, 1), h);
    hs = to_dtype(mul(h, scale), promote(xa.dtype(), A.dtype()));                              // [N, r]
    gemm::matmul_into("linear", to_dtype(hs, ct), transpose(to_dtype(B, ct), 0, 1), y2, true);  // y += hs Bᵀ
    y = to_dtype(reshape(y2, y_shape), dt);
  }

  Recorder rec(kOp, {x, weight, bias, shared ? Tensor{} : xa, A, B});
  if (!rec) return y;
  const bool nx = rec.needs(kX), nw = rec.needs(kW), nxa = rec.needs(kXa), na = rec.needs(kA), nb = rec.needs(kB);
  // gs = scale·(g B) [N, r] feeds dA, x_a's gradient, and (shared) x's gradient.
  const bool need_gs = na || nxa || (shared && nx);
  // When x_a is x and dW already saves x, dA reads that slot rather than a second copy.
  const bool xa_in_x_slot = shared && nw;
  std::vector<Tensor> saved(6);
  if (nx) saved[sW] = weight;
  if (nw) saved[sX] = x;
  if (na && !xa_in_x_slot) saved[sXa] = xa;
  if (nxa || (shared && nx)) saved[sA] = A;
  if (need_gs) saved[sB] = B;
  if (nb) saved[sHs] = hs;
  rec.save(std::move(saved));

  const Shape xs = x.shape(), xas = xa.shape();
  const DType dx = x.dtype(), dw = weight.dtype(), dxa = xa.dtype(), da = A.dtype(), db = B.dtype();
  const DType dbias = bias.defined() ? bias.dtype() : dt;
  return rec.finish(y, [=](const Tensor& g, Node& n) -> Grads {
    Grads grads(6);
    Tensor g2 = reshape(g, {-1, out});  // [N, out]
    if (n.needs(kB)) grads[kB] = gemm::mm("linear.dw", transpose(g2, 0, 1), n.saved[sHs], db);  // [out, N] @ [N, r]
    Tensor gs;
    if (need_gs) gs = mul(gemm::mm("linear.dx", g2, n.saved[sB], ct), scale);  // [N, out] @ [out, r]
    if (n.needs(kA)) {
      Tensor xa2 = reshape(n.saved[xa_in_x_slot ? sX : sXa], {-1, in});
      grads[kA] = gemm::mm("linear.dw", transpose(gs, 0, 1), xa2, da);  // [r, N] @ [N, in]
    }
    if (n.needs(kX)) {
      const Tensor& w = n.saved[sW];
      Tensor w_oi = out_in ? w : transpose(w, 0, 1);  // [out, in] view
      if (shared) {
        // gx = g W + gs A in one buffer: the second GEMM accumulates (beta = 1), no add pass.
        NoGradGuard no_grad;
        Tensor gx = empty({g2.size(0), in}, ct, g2.device());
        gemm::matmul_into("linear.dx", to_dtype(g2, ct), to_dtype(w_oi, ct), gx);
        gemm::matmul_into("linear.dx", to_dtype(gs, ct), to_dtype(n.saved[sA], ct), gx, true);
        grads[kX] = reshape(to_dtype(gx, dx), xs);
      } else {
        grads[kX] = reshape(gemm::mm("linear.dx", g2, w_oi, dx), xs);  // [N, out] @ [out, in]
      }
    }
    if (n.needs(kXa)) grads[kXa] = reshape(gemm::mm("linear.dx", gs, n.saved[sA], dxa), xas);  // [N, r] @ [r, in]
    if (n.needs(kW)) {
      Tensor x2 = reshape(n.saved[sX], {-1, in});  // [N, in]
      grads[kW] = out_in ? gemm::mm("linear.dw", transpose(g2, 0, 1), x2, dw)   // [out, N] @ [N, in]
                         : gemm::mm("linear.dw", transpose(x2, 0, 1), g2, dw);  // [in, N] @ [N, out]
    }
    if (n.needs(kBias)) {
      const DType st = g2.dtype() == DType::f64 ? DType::f64 : DType::f32;  // the column sums accumulate in f32
      grads[kBias] = to_dtype(gemm::sum_dims("linear.db", to_dtype(g2, st), {true, false}), dbias);
    }
    return grads;
  });
}

}  // namespace engine
