// The BLAS description of a row-major matmul (see gemm_layout.h). Compiled in every build:
// plain tensor logic, no CUDA.
#include "engine/backend/cuda/gemm_layout.h"

#include <algorithm>
#include <cstdint>

#include "engine/core/strided.h"
#include "engine/ops/shape.h"

namespace engine::cuda::gemm {

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

// Row-major [R, C] with unit column stride is the column-major C×R matrix read as it is
// (ld = row stride); with unit row stride it is the column-major R×C one, transposed.
bool read_in_place(const Tensor& t, Operand& g) {
  const int64_t R = t.size(-2), C = t.size(-1), sr = t.stride(-2), sc = t.stride(-1);
  if (sc == 1 && sr >= std::max<int64_t>(1, C)) {
    g.transpose = false, g.rows = C, g.cols = R, g.ld = sr;
    return true;
  }
  if (sr == 1 && sc >= std::max<int64_t>(1, R)) {
    g.transpose = true, g.rows = R, g.cols = C, g.ld = sc;
    return true;
  }
  return false;
}

Operand prepare(const Tensor& x, const Shape& batch) {
  Operand g{x};
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

Problem describe(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  const Shape batch(out_shape.begin(), out_shape.end() - 2);
  Problem p{prepare(b, batch), prepare(a, batch)};
  p.m = out_shape.back();                    // N
  p.n = out_shape[out_shape.size() - 2];     // M
  p.k = a.size(-1);
  p.batch = shape_numel(batch);
  return p;
}

int64_t alignment(const void* p, std::initializer_list<int64_t> byte_strides) {
  uint64_t v = reinterpret_cast<uintptr_t>(p) | 256;
  for (int64_t s : byte_strides) v |= uint64_t(s);
  return int64_t(v & (~v + 1));  // the lowest set bit
}

EpilogueChoice choose_epilogue(const Problem& p, bool bias, bool gelu, int64_t aux_alignment) {
  EpilogueChoice c;
  c.epilogue = bias ? Epilogue::bias : Epilogue::none;
  if (!gelu) return c;
  // The aux matrix is D's twin: the row-major [.., M, N] pre-activation is column-major N×M
  // with ld N = p.m, exactly as D, so bias (along D's rows) and aux line up element for element.
  const int64_t ld = p.m, stride = p.m * p.n;
  if (ld % 8 != 0 || (p.batch > 1 && stride % 8 != 0) || aux_alignment < 16) return c;
  c.epilogue = bias ? Epilogue::gelu_aux_bias : Epilogue::gelu_aux;
  c.fused_gelu = true;
  c.aux_ld = ld;
  c.aux_batch_stride = p.batch > 1 ? stride : 0;
  return c;
}

}  // namespace engine::cuda::gemm
