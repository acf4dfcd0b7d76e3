// scaled_dot_product_attention: validation, prefix keys/values, then one recorded primitive
// ("attention") over the fused kernel. The primitive saves q, k, the row log-sum-exp, the
// bias and the mask, plus v and out only when dq, dk or dbias are needed: O(T) per query row
// instead of the O(T²) probabilities an unfused softmax would save. On a GPU the same primitive
// runs the CUDA kernels (backend/cuda/cuda_attention.h) in the storage dtype (f32, bf16, f16;
// f32 compute), with an f32 lse and the key mask as f32.
#include "engine/ops/attention.h"

#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/attention.h"
#include "engine/backend/cuda/cuda_attention.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/core/counters.h"
#include "engine/ops/binary.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"

namespace engine {
using autograd::Node;
using autograd::Recorder;
using Grads = std::vector<Tensor>;

namespace {

// Everything about one call except the tensors (the vjp captures this by value).
struct Problem {
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, D = 0, Dv = 0;  // Tk counts the prefix keys
  double scale = 1, dropout_p = 0;
  bool causal = false;
  int64_t q_offset = 0;
  uint64_t seed = 0, offset = 0;
  DType ct = DType::f32;  // compute dtype on the CPU; on a GPU the storage dtype of every operand
};

cuda::AttentionSpec cuda_spec(const Problem& p) {
  return {p.scale, p.causal, p.q_offset, p.dropout_p, p.seed, p.offset};
}

cpu::Strides4 strides4(const Tensor& t) {
  const Shape& s = t.strides();
  return {s[0], s[1], s[2], s[3]};
}

// The bias as a 4-d tensor of its own sizes (leading 1s added): [b|1, h|1, Tq|1, Tk|1].
Tensor bias_4d(const Tensor& bias, const Problem& p) {
  check<ShapeError>(bias.dim() <= 4, "[attention] bias must have at most 4 dims, got ", shape_str(bias.shape()));
  Shape s(size_t(4 - bias.dim()), 1);
  s.insert(s.end(), bias.shape().begin(), bias.shape().end());
  const Shape full{p.B, p.H, p.Tq, p.Tk};
  for (size_t i = 0; i < 4; ++i)
    check<ShapeError>(s[i] == 1 || s[i] == full[i], "[attention] bias ", shape_str(bias.shape()),
                      " does not broadcast to [B,H,Tq,Tk] = ", shape_str(full));
  return reshape(bias, s);
}

// Strides of a broadcast [b|1, h|1, Tq|1, Tk|1] operand over [B,H,Tq,Tk]: 0 where it has size 1.
cpu::Strides4 broadcast_strides4(const Tensor& t) {
  cpu::Strides4 s = strides4(t);
  const Shape& n = t.shape();
  return {n[0] == 1 ? 0 : s.b, n[1] == 1 ? 0 : s.h, n[2] == 1 ? 0 : s.t, n[3] == 1 ? 0 : s.d};
}

// The key mask as bool [B|1, Tk] (f32 on a GPU: nonzero = attend), with ones for the P prefix
// keys in front. A mask on another device than q is copied over.
Tensor key_mask(const Tensor& mask, int64_t P, const Problem& p, Device dev) {
  check<ShapeError>(mask.dim() == 2 && (mask.size(0) == 1 || mask.size(0) == p.B) &&
                        mask.size(1) == p.Tk - P,
                    "[attention] mask must be [B,Tk] = [", p.B, ",", p.Tk - P, "], got ", shape_str(mask.shape()));
  if (!dev.is_cpu()) {  // as f32, nonzero = attend; f64 masks are compared first (f32 could flush to 0)
    Tensor d = mask.dtype() == DType::f64 ? ne(mask, 0.0) : mask;
    Tensor m = to_dtype(to_device(d, dev), DType::f32);
    return P ? concat({ones({m.size(0), P}, DType::f32, dev), m}, 1) : m;
  }
  Tensor h = mask.device().is_cpu() ? mask : to_device(mask, dev);  // the CPU kernel reads it on the host
  Tensor m = h.dtype() == DType::boolean ? h : ne(h, 0.0);
  return P ? concat({ones({m.size(0), P}, DType::boolean), m}, 1) : m;
}

template <typename T>
cpu::AttentionArgs<T> kernel_args(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& bias, const Tensor& mask) {
  cpu::AttentionArgs<T> a;
  a.B = p.B, a.H = p.H, a.Tq = p.Tq, a.Tk = p.Tk, a.D = p.D, a.Dv = p.Dv;
  a.q = q.data<T>(), a.sq = strides4(q), a.k = k.data<T>(), a.sk = strides4(k);
  if (v.defined()) a.v = v.data<T>(), a.sv = strides4(v);
  a.scale = T(p.scale);
  if (bias.defined()) a.bias = bias.data<T>(), a.sbias = broadcast_strides4(bias);
  if (mask.defined()) {
    a.key_mask = reinterpret_cast<const uint8_t*>(mask.data<bool>());
    a.mask_sb = mask.size(0) == 1 ? 0 : mask.stride(0), a.mask_st = mask.stride(1);
  }
  a.causal = p.causal, a.q_offset = p.q_offset;
  a.dropout_p = float(p.dropout_p), a.seed = p.seed, a.offset = p.offset;
  return a;
}

// The vjp of the primitive. saved = {q, k, v?, out?, lse, bias?, mask?}.
Grads attention_vjp(const Problem& p, const Tensor& grad, Node& n) {
  const Tensor &q = n.saved[0], &k = n.saved[1], &v = n.saved[2], &out = n.saved[3], &lse = n.saved[4],
               &bias = n.saved[5], &mask = n.saved[6];
  const Device dev = q.device();
  Tensor g = to_dtype(grad, p.ct);
  Tensor dq = n.needs(0) ? empty({p.B, p.H, p.Tq, p.D}, p.ct, dev) : Tensor{};
  Tensor dk = n.needs(1) ? empty({p.B, p.H, p.Tk, p.D}, p.ct, dev) : Tensor{};
  Tensor dv = n.needs(2) ? empty({p.B, p.H, p.Tk, p.Dv}, p.ct, dev) : Tensor{};
  Tensor dbias = n.needs(3) ? empty(bias.shape(), p.ct, dev) : Tensor{};
  if (!dev.is_cpu())
    cuda::attention_backward(cuda_spec(p), q, k, v, bias, mask, out, lse, g, dq, dk, dv, dbias);
  else dispatch_compute(p.ct, "attention", [&]<typename T>() {
    auto a = kernel_args<T>(p, q, k, v, bias, mask);
    cpu::AttentionGrads<T> gr;
    if (out.defined()) gr.out = out.data<T>(), gr.so = strides4(out);
    gr.lse = lse.data<T>(), gr.dout = g.data<T>(), gr.sdo = strides4(g);
    if (dq.defined()) gr.dq = dq.data<T>(), gr.sdq = strides4(dq);
    if (dk.defined()) gr.dk = dk.data<T>(), gr.sdk = strides4(dk);
    if (dv.defined()) gr.dv = dv.data<T>(), gr.sdv = strides4(dv);
    if (dbias.defined()) gr.dbias = dbias.data<T>(), gr.sdbias = broadcast_strides4(dbias);
    cpu::attention_backward(a, gr);
  });
  const int64_t qk = 2 * p.B * p.H * p.Tq * p.Tk;  // FLOPs per unit of head dim
  bool ds = dq.defined() || dk.defined() || dbias.defined();
  count_kernel("attention_backward", qk * (p.D + (dv.defined() ? p.Dv : 0) + (ds ? p.Dv : 0) +
                                           (dq.defined() ? p.D : 0) + (dk.defined() ? p.D : 0)));
  return {dq, dk, dv, dbias};
}

// The recorded primitive on compute-dtype operands; k and v already include any prefix.
Tensor attention_primitive(const Problem& p, const Tensor& q, const Tensor& k, const Tensor& v,
                           const Tensor& bias, const Tensor& mask) {
  const Device dev = q.device();
  Tensor out = empty({p.B, p.H, p.Tq, p.Dv}, p.ct, dev);
  Tensor lse = empty({p.B, p.H, p.Tq}, dev.is_cpu() ? p.ct : DType::f32, dev);  // f32 on a GPU
  if (!dev.is_cpu()) cuda::attention_forward(cuda_spec(p), q, k, v, bias, mask, out, lse);
  else dispatch_compute(p.ct, "attention", [&]<typename T>() {
    cpu::attention_forward(kernel_args<T>(p, q, k, v, bias, mask), out.data<T>(), strides4(out), lse.data<T>());
  });
  count_kernel("attention", 2 * p.B * p.H * p.Tq * p.Tk * (p.D + p.Dv));
  Recorder rec("attention", {q, k, v, bias});
  if (!rec) return out;
  bool ds = rec.needs(0) || rec.needs(1) || rec.needs(3);  // dS = P ⊙ (dO·vᵀ − rowsum(dO ⊙ out))
  rec.save({q, k, ds ? v : Tensor{}, ds ? out : Tensor{}, lse, bias, mask});
  return rec.finish(out, [p](const Tensor& g, Node& n) { return attention_vjp(p, g, n); });
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v) {
  for (const Tensor* t : {&q, &k, &v}) {
    check<ShapeError>(t->dim() == 4, "[attention] q, k, v must be [B,H,T,D], got q ", shape_str(q.shape()),
                      " k ", shape_str(k.shape()), " v ", shape_str(v.shape()));
    check<NoKernelError>(t->device() == q.device(), "[attention] q, k, v on different devices: q on ",
                         q.device().str(), ", ", t->device().str());
  }
  if (!q.device().is_cpu()) cuda::require("attention", q.device());
  check<ShapeError>(k.size(0) == q.size(0) && k.size(1) == q.size(1) && k.size(3) == q.size(3) &&
                        v.size(0) == q.size(0) && v.size(1) == q.size(1) && v.size(2) == k.size(2),
                    "[attention] incompatible q ", shape_str(q.shape()), " k ", shape_str(k.shape()),
                    " v ", shape_str(v.shape()));
}

// k (or v) with the prefix [B|1, H, P, d] prepended along time.
Tensor with_prefix(const Tensor& prefix, const Tensor& x, const char* name) {
  if (!prefix.defined()) return x;
  check<NoKernelError>(prefix.device() == x.device(), "[attention] ", name, " on ", prefix.device().str(),
                       ", keys on ", x.device().str());
  check<ShapeError>(prefix.dim() == 4 && (prefix.size(0) == 1 || prefix.size(0) == x.size(0)) &&
                        prefix.size(1) == x.size(1) && prefix.size(3) == x.size(3),
                    "[attention] ", name, " ", shape_str(prefix.shape()), " does not fit ", shape_str(x.shape()));
  return concat({expand(prefix, {x.size(0), -1, -1, -1}), x}, 2);
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& o) {
  check_inputs(q, k, v);
  check<ValueError>(o.prefix_k.defined() == o.prefix_v.defined(),
                    "[attention] prefix_k and prefix_v come together");
  check<ValueError>(o.dropout_p >= 0 && o.dropout_p < 1, "[attention] dropout_p must be in [0,1), got ", o.dropout_p);
  DType dt = promote(promote(q.dtype(), k.dtype()), v.dtype());
  check<DTypeError>(is_floating(dt), "[attention] expects floating q, k, v, got ", dtype_name(dt));
  const Device dev = q.device();
  Problem p;
  p.ct = dt == DType::f64 ? DType::f64 : DType::f32;  // half types compute in f32
  if (!dev.is_cpu()) {  // the CUDA kernels read the storage dtype and compute in f32
    check<DTypeError>(dt != DType::f64, "[attention] cuda kernels take f32, bf16 or f16, got f64 (CPU-only)");
    p.ct = dt;
  }
  const int64_t P = o.prefix_k.defined() ? o.prefix_k.size(2) : 0;
  Tensor kk = with_prefix(o.prefix_k, k, "prefix_k"), vv = with_prefix(o.prefix_v, v, "prefix_v");
  check<ShapeError>(vv.size(2) == kk.size(2), "[attention] prefix_k and prefix_v lengths differ");
  p.B = q.size(0), p.H = q.size(1), p.Tq = q.size(2), p.Tk = kk.size(2), p.D = q.size(3), p.Dv = v.size(3);
  p.scale = o.scale.value_or(1.0 / std::sqrt(double(p.D)));
  p.causal = o.causal, p.q_offset = o.q_offset.value_or(p.Tk - p.Tq);
  p.dropout_p = o.dropout_p;
  if (p.dropout_p > 0) {
    Generator& gen = o.generator ? *o.generator : default_generator();
    p.seed = gen.seed(), p.offset = gen.advance(uint64_t(p.B * p.H * p.Tq * p.Tk));
  }
  if (o.bias.defined())
    check<NoKernelError>(o.bias.device() == dev, "[attention] bias on ", o.bias.device().str(), ", q on ", dev.str());
  Tensor bias = o.bias.defined() ? to_dtype(bias_4d(o.bias, p), p.ct) : Tensor{};
  Tensor mask;
  if (o.mask.defined()) {
    NoGradGuard no_grad;
    mask = key_mask(o.mask, P, p, dev);
  }
  Tensor out = attention_primitive(p, to_dtype(q, p.ct), to_dtype(kk, p.ct), to_dtype(vv, p.ct), bias, mask);
  return to_dtype(out, dt);
}

}  // namespace engine
