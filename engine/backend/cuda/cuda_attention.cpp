// Tensor-level fused attention on CUDA (see cuda_attention.h): checks the device, dtypes and
// head dims, turns the tensors into the kernels' strided descriptions (attention_kernels.h),
// allocates the backward's delta scratch (O(B·H·Tq), the only buffer beyond the gradients) and
// launches. Broadcast bias dims get stride 0; dbias is summed over them in the kernel.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_attention.h"

#include <climits>

#include "engine/backend/cuda/attention_kernels.h"
#include "engine/backend/cuda/attention_mma.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/backend/cuda/kernels.h"

namespace engine::cuda {
namespace {

namespace ak = kernels::attn;

ak::Strides4 strides4(const Tensor& t) {
  return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// Strides of a [b|1, h|1, t|1, d|1] operand over the full shape: 0 on its size-1 dims.
ak::Strides4 broadcast_strides4(const Tensor& t) {
  ak::Strides4 s = strides4(t);
  return {t.size(0) == 1 ? 0 : s.b, t.size(1) == 1 ? 0 : s.h, t.size(2) == 1 ? 0 : s.t, t.size(3) == 1 ? 0 : s.d};
}

int dtype_code(const Tensor& q) {
  switch (q.dtype()) {
    case DType::f32: return kernels::F32;
    case DType::bf16: return kernels::BF16;
    case DType::f16: return kernels::F16;
    default:
      fail<DTypeError>("[attention] cuda kernels take f32, bf16 or f16, got ", dtype_name(q.dtype()),
                       " (f64 is CPU-only)");
  }
}

// Every defined operand on q's device with q's dtype (f32 for `f32_only` ones: mask, lse).
void check_operands(const Tensor& q, std::initializer_list<Tensor> same_dtype, std::initializer_list<Tensor> f32_only) {
  require("attention", q.device());
  for (const Tensor& t : same_dtype)
    if (t.defined()) {
      check<NoKernelError>(t.device() == q.device(), "[attention] operands on ", q.device().str(), " and ",
                           t.device().str());
      check<DTypeError>(t.dtype() == q.dtype(), "[attention] cuda operands must share one dtype, got ",
                        dtype_name(q.dtype()), " and ", dtype_name(t.dtype()));
    }
  for (const Tensor& t : f32_only)
    if (t.defined()) {
      check<NoKernelError>(t.device() == q.device(), "[attention] operands on ", q.device().str(), " and ",
                           t.device().str());
      check<DTypeError>(t.dtype() == DType::f32, "[attention] mask and lse must be f32 on cuda, got ",
                        dtype_name(t.dtype()));
    }
}

ak::Params params(const AttentionSpec& s, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                  const Tensor& mask) {
  ak::Params p;
  p.B = q.size(0), p.H = q.size(1), p.Tq = q.size(2), p.Tk = k.size(2), p.D = q.size(3);
  p.Dv = v.defined() ? v.size(3) : 0;
  check<NoKernelError>(p.D <= kAttentionMaxHeadDim && p.Dv <= kAttentionMaxHeadDim,
                       "[attention] the cuda kernel takes head dims up to ", kAttentionMaxHeadDim, ", got D=", p.D,
                       " Dv=", p.Dv, " on ", q.device().str());
  ak::Plan pl = ak::plan(p.B, p.H, p.Tq, p.Tk);
  check<ShapeError>(pl.forward_blocks <= INT_MAX && pl.dkdv_blocks <= INT_MAX && pl.delta_blocks <= INT_MAX,
                    "[attention] too many rows for one cuda launch: q ", shape_str(q.shape()), " k ",
                    shape_str(k.shape()));
  p.q = q.raw_data(), p.sq = strides4(q);
  p.k = k.raw_data(), p.sk = strides4(k);
  if (v.defined()) p.v = v.raw_data(), p.sv = strides4(v);
  if (bias.defined()) p.bias = bias.raw_data(), p.sbias = broadcast_strides4(bias);
  if (mask.defined()) {
    p.mask = static_cast<const float*>(mask.raw_data());
    p.mask_sb = mask.size(0) == 1 ? 0 : mask.stride(0), p.mask_st = mask.stride(1);
  }
  p.scale = float(s.scale), p.causal = s.causal, p.q_offset = s.q_offset;
  p.dropout_p = float(s.dropout_p), p.seed = s.seed, p.offset = s.offset;
  return p;
}

}  // namespace

void attention_forward(const AttentionSpec& s, const Tensor& q, const Tensor& k, const Tensor& v,
                       const Tensor& bias, const Tensor& mask, const Tensor& out, const Tensor& lse) {
  check_operands(q, {k, v, bias, out}, {mask, lse});
  check<ValueError>(lse.is_contiguous(), "[attention] lse must be contiguous");
  ak::Params p = params(s, q, k, v, bias, mask);
  // Tensor cores (attention_mma.h) where they apply, else the CUDA-core kernels.
  if (!ak::mma::attention_forward_mma(dtype_code(q), p, out.raw_data(), strides4(out),
                                      static_cast<float*>(lse.raw_data())))
    ak::attention_forward(dtype_code(q), p, out.raw_data(), strides4(out), static_cast<float*>(lse.raw_data()));
}

void attention_backward(const AttentionSpec& s, const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& bias, const Tensor& mask, const Tensor& out, const Tensor& lse,
                        const Tensor& dout, const Tensor& dq, const Tensor& dk, const Tensor& dv,
                        const Tensor& dbias) {
  check_operands(q, {k, v, bias, out, dout, dq, dk, dv, dbias}, {mask, lse});
  check<ValueError>(lse.is_contiguous(), "[attention] lse must be contiguous");
  const bool want_ds = dq.defined() || dk.defined() || dbias.defined();
  check<ValueError>(!want_ds || (v.defined() && out.defined()), "[attention] dq, dk and dbias need v and out");
  ak::Params p = params(s, q, k, v, bias, mask);
  p.Dv = dout.size(3);  // v may be absent when only dv is requested: re-check the head dim
  check<NoKernelError>(p.Dv <= kAttentionMaxHeadDim, "[attention] the cuda kernel takes head dims up to ",
                       kAttentionMaxHeadDim, ", got Dv=", p.Dv, " on ", q.device().str());
  ak::Grads g;
  if (out.defined()) g.out = out.raw_data(), g.so = strides4(out);
  g.lse = static_cast<const float*>(lse.raw_data());
  g.dout = dout.raw_data(), g.sdo = strides4(dout);
  Tensor delta;
  if (want_ds) {
    delta = empty({p.B, p.H, p.Tq}, DType::f32, q.device());  // freed stream-ordered after the kernels
    g.delta = static_cast<float*>(delta.raw_data());
  }
  if (dq.defined()) g.dq = dq.raw_data(), g.sdq = strides4(dq);
  if (dk.defined()) g.dk = dk.raw_data(), g.sdk = strides4(dk);
  if (dv.defined()) g.dv = dv.raw_data(), g.sdv = strides4(dv);
  if (dbias.defined()) {
    check<ShapeError>(dbias.dim() == 4, "[attention] dbias must be 4-d, got ", shape_str(dbias.shape()));
    g.dbias = dbias.raw_data(), g.sdbias = strides4(dbias);
    g.nb = dbias.size(0), g.nh = dbias.size(1), g.nt = dbias.size(2), g.nd = dbias.size(3);
  }
  if (!ak::mma::attention_backward_mma(dtype_code(q), p, g)) ak::attention_backward(dtype_code(q), p, g);
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
