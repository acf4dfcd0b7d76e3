// quantized_linear: y = x·Ŵᵀ + b with Ŵ dequantized tile by tile, never whole.
//
// Forward: W's output rows are cut into tiles of about 512 KB of f32 (L2-resident); each
// oneTBB task dequantizes one tile (SIMD) and runs one single-threaded sgemm
//   y[:, r0:r1] (+)= x [N, in] · tileᵀ [in, r1 - r0].
// Backward (W frozen, so dx only): W's input columns are cut into tiles of whole NF4 blocks;
//   dx[:, c0:c1] = gy [N, out] · tile [out, c1 - c0],
// so no task reduces across another's output and results do not depend on the thread count.
// On a GPU (x there): the same products by dequantized tiles and cuBLASLt (backend/cuda/
// cuda_quant.cpp; half inputs get half tiles and tensor cores), the weight's parts uploaded
// once and kept with it.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include <tbb/parallel_for.h>

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/backend/cpu/reduce.h"
#include "engine/backend/cpu/threading.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/backend/cuda/cuda_quant.h"
#include "engine/core/counters.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"
#include "engine/quant/dequant_tile.h"

namespace engine::quant {
namespace {

constexpr int64_t kTileFloats = int64_t{1} << 17;  // 512 KB of f32: within a core's L2

// A per-thread tile buffer, reused across calls (grows to the largest tile seen).
float* tile_buffer(int64_t floats) {
  thread_local std::vector<float> buf;
  if (int64_t(buf.size()) < floats) buf.resize(size_t(floats));
  return buf.data();
}

// Rows of W per forward tile: a multiple of 16, between 16 and 256.
int64_t row_tile(int64_t in) { return std::clamp<int64_t>(kTileFloats / in / 16 * 16, 16, 256); }
// Columns of W per backward tile: whole NF4 blocks (64 values), at least one.
int64_t col_tile(int64_t out) {
  return std::max<int64_t>(kNF4Block, kTileFloats / out / kNF4Block * kNF4Block);
}

// y [n, out] = x [n, in] · Ŵᵀ (+ y when accumulate); x, y contiguous f32.
void forward_tiles(const float* x, int64_t n, const QuantizedWeight& w, float* y, bool accumulate) {
  const int64_t out = w.out_features(), in = w.in_features(), rows = row_tile(in);
  cpu::SerialBlas serial;  // each task runs its own single-threaded sgemm
  tbb::parallel_for(int64_t{0}, (out + rows - 1) / rows, [&](int64_t t) {
    const int64_t r0 = t * rows, r1 = std::min(out, r0 + rows);
    float* tile = tile_buffer(rows * in);  // [r1 - r0, in]
    dequantize_tile(w, r0, r1, 0, in, tile, in);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(r1 - r0), int(in), 1.0f, x,
                int(in), tile, int(in), accumulate ? 1.0f : 0.0f, y + r0, int(out));
  });
}

// dx [n, in] = gy [n, out] · Ŵ [out, in]; gy, dx contiguous f32.
void backward_tiles(const float* gy, int64_t n, const QuantizedWeight& w, float* dx) {
  const int64_t out = w.out_features(), in = w.in_features(), cols = col_tile(out);
  cpu::SerialBlas serial;
  tbb::parallel_for(int64_t{0}, (in + cols - 1) / cols, [&](int64_t t) {
    const int64_t c0 = t * cols, c1 = std::min(in, c0 + cols);
    float* tile = tile_buffer(out * cols);  // [out, c1 - c0]
    dequantize_tile(w, 0, out, c0, c1, tile, c1 - c0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(c1 - c0), int(out), 1.0f, gy,
                int(out), tile, int(c1 - c0), 0.0f, dx + c0, int(in));
  });
}

// The GPU's GEMM dtype for an operand: its own half type (only Ŵ's tile is rounded to it),
// else f32 (f64 is computed in f32, as on the CPU).
DType gpu_gemm_dtype(DType dt) { return dt == DType::bf16 || dt == DType::f16 ? dt : DType::f32; }

void check_args(const Tensor& x, const QuantizedWeight& w, const Tensor& bias) {
  check<ValueError>(w.defined(), "[quantized_linear] the quantized weight is undefined");
  check<ShapeError>(x.defined() && x.dim() >= 1, "[quantized_linear] expects x [..., in]");
  if (x.defined() && !x.device().is_cpu()) cuda::require("quantized_linear", x.device());
  for (const Tensor& t : {x, bias})
    if (t.defined()) {
      check<NoKernelError>(t.device() == x.device(), "[quantized_linear] x on ", x.device().str(), ", bias on ",
                           t.device().str());
      check<DTypeError>(is_floating(t.dtype()), "[quantized_linear] expects floating x and bias, got ",
                        dtype_name(t.dtype()));
    }
  check<ShapeError>(x.size(-1) == w.in_features(), "[quantized_linear] input features differ: x ",
                    shape_str(x.shape()), " vs ", format_name(w.format()), " weight [out, in] = ",
                    shape_str(w.shape()));
  check<ShapeError>(!bias.defined() || bias.shape() == Shape{w.out_features()}, "[quantized_linear] bias ",
                    bias.defined() ? shape_str(bias.shape()) : "", " does not match ", w.out_features(),
                    " outputs");
}

}  // namespace

Tensor quantized_linear(const Tensor& x, const QuantizedWeight& w, const Tensor& bias) {
  check_args(x, w, bias);
  const int64_t in = w.in_features(), out = w.out_features();
  const DType dt = bias.defined() ? promote(x.dtype(), bias.dtype()) : x.dtype();
  Shape y_shape(x.shape().begin(), x.shape().end() - 1);
  y_shape.push_back(out);
  Tensor y;
  {
    NoGradGuard no_grad;
    Tensor y2;  // [N, out] f32
    if (!x.device().is_cpu()) {  // half x stays half (tensor cores); the tile GEMMs count themselves
      y2 = cuda::quantized_matmul(contiguous(reshape(to_dtype(x, gpu_gemm_dtype(x.dtype())), {-1, in})), w, bias);
    } else {
      Tensor x2 = contiguous(reshape(to_dtype(x, DType::f32), {-1, in}));  // [N, in]
      const int64_t n = x2.size(0);
      y2 = empty({n, out});
      if (bias.defined()) copy_(y2, to_dtype(bias, DType::f32));  // the tiles accumulate onto it
      count_kernel("quantized_linear", 2 * n * in * out);
      if (n > 0) forward_tiles(x2.data<float>(), n, w, y2.data<float>(), bias.defined());
    }
    y = to_dtype(reshape(y2, y_shape), dt);
  }
  autograd::Recorder rec("quantized_linear", {x, bias});
  if (!rec) return y;
  // dx = gy·Ŵ needs only Ŵ (held by the handle, already resident); db needs nothing: no save.
  const Shape xs = x.shape();
  const DType dx_t = x.dtype(), db_t = bias.defined() ? bias.dtype() : dt;
  return rec.finish(y, [=](const Tensor& g, autograd::Node& node) -> std::vector<Tensor> {
    const bool gpu = !g.device().is_cpu();
    // [N, out] f32: what the CPU tiles and every db read (made only when one of them runs).
    Tensor g2 = !gpu || node.needs(1) ? contiguous(reshape(to_dtype(g, DType::f32), {-1, out})) : Tensor{};
    Tensor gx, gb;
    if (node.needs(0) && gpu) {  // g's half type kept for the tile GEMMs, as in the forward
      Tensor gh = contiguous(reshape(to_dtype(g, gpu_gemm_dtype(g.dtype())), {-1, out}));
      gx = to_dtype(reshape(cuda::quantized_matmul_t(gh, w), xs), dx_t);
    } else if (node.needs(0)) {
      const int64_t n = g2.size(0);
      count_kernel("quantized_linear.dx", 2 * n * in * out);
      Tensor dx = empty({n, in});  // [N, in]
      if (n > 0) backward_tiles(g2.data<float>(), n, w, dx.data<float>());
      gx = to_dtype(reshape(dx, xs), dx_t);
    }
    if (node.needs(1))
      gb = to_dtype(gpu ? cuda::sum_dims("quantized_linear.db", g2, {true, false})
                        : cpu::sum_dims("quantized_linear.db", g2, {true, false}),
                    db_t);
    return {gx, gb};
  });
}

}  // namespace engine::quant
