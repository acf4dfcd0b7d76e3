// QLoRA on a GPU (see cuda_quant.h): upload of the quantized parts, dequantization of row
// tiles with the kernels of quant.cu, and tiled products through cuda::matmul_into
// (cuBLASLt). Forward: y[:, r0:r1] = x · tileᵀ (+ bias[r0:r1]); backward:
// dx (+)= g[:, r0:r1] · tile, tile after tile. A weight of up to 2^24 values is one tile.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_quant.h"

#include <algorithm>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/backend/cuda/quant_kernels.h"

namespace engine::cuda {
namespace {

constexpr int64_t kTileValues = int64_t{1} << 24;  // 64 MB of f32 (32 MB half) per tile at most

// n bytes from the host into a fresh device buffer (i32 words; the padding is never read).
Tensor upload_bytes(const void* src, int64_t n, Device device) {
  Tensor t = empty({(n + 3) / 4}, DType::i32, device);
  if (n > 0) copy_bytes(t.raw_data(), device, src, Device::cpu(), size_t(n));
  return t;
}

int64_t tile_rows(const quant::QuantizedWeight& w) {
  return std::max<int64_t>(1, kTileValues / std::max<int64_t>(1, w.in_features()));
}

void check_operand(const char* op, const Tensor& t, int64_t cols) {
  require(op, t.device());
  const DType dt = t.dtype();
  check<ValueError>((dt == DType::f32 || dt == DType::bf16 || dt == DType::f16) && t.dim() == 2 && t.size(1) == cols &&
                        t.is_contiguous(),
                    "[", op, "] expects contiguous f32/bf16/f16 [n, ", cols, "], got ", shape_str(t.shape()), " ",
                    dtype_name(dt));
}

}  // namespace

quant::QuantizedWeight::DeviceParts upload_quantized(const quant::QuantizedWeight& w, Device device) {
  require("QuantizedWeight.to", device);
  quant::QuantizedWeight::DeviceParts d;
  d.codes = upload_bytes(w.codes().data(), int64_t(w.codes().size()), device);
  if (w.format() == quant::QuantFormat::nf4)
    d.absmax_codes = upload_bytes(w.absmax_codes().data(), int64_t(w.absmax_codes().size()), device);
  const auto scales = w.scales();
  d.scales = empty({int64_t(scales.size())}, DType::f32, device);
  if (!scales.empty()) copy_bytes(d.scales.raw_data(), device, scales.data(), Device::cpu(), scales.size_bytes());
  return d;
}

Tensor dequantize_rows(const quant::QuantizedWeight& w, Device device, int64_t r0, int64_t r1, DType dt) {
  require("dequantize", device);
  check<ValueError>(0 <= r0 && r0 <= r1 && r1 <= w.out_features(), "[dequantize] rows [", r0, ", ", r1,
                    ") outside a weight of ", w.out_features(), " rows");
  check<DTypeError>(dt == DType::f32 || dt == DType::bf16 || dt == DType::f16,
                    "[dequantize] cuda kernels write f32, bf16 or f16, got ", dtype_name(dt));
  const auto& d = w.device_parts(device);
  const int64_t in = w.in_features();
  Tensor out = empty({r1 - r0, in}, dt, device);
  if (w.format() == quant::QuantFormat::nf4)
    kernels::dequantize_nf4(static_cast<const uint8_t*>(d.codes.raw_data()),
                            static_cast<const int8_t*>(d.absmax_codes.raw_data()), d.scales.data<float>(), w.offset(),
                            r0, r1, in, out.raw_data(), int(dt));
  else
    kernels::dequantize_int8(static_cast<const int8_t*>(d.codes.raw_data()), d.scales.data<float>(), r0, r1, in,
                             out.raw_data(), int(dt));
  return out;
}

Tensor quantized_matmul(const Tensor& x, const quant::QuantizedWeight& w, const Tensor& bias) {
  check_operand("quantized_linear", x, w.in_features());
  NoGradGuard no_grad;
  const Device dev = x.device();
  const int64_t n = x.size(0), out = w.out_features(), rows = tile_rows(w);
  Tensor y = empty({n, out}, DType::f32, dev);
  if (rows >= out) {  // one tile: the GEMM writes y (and adds the bias) directly
    matmul_into("quantized_linear", x, dequantize_rows(w, dev, 0, out, x.dtype()).t(), y, false, bias);
    return y;
  }
  for (int64_t r0 = 0; r0 < out; r0 += rows) {  // y's column slices are not contiguous: stage each
    const int64_t r1 = std::min(out, r0 + rows);
    Tensor part = empty({n, r1 - r0}, DType::f32, dev);
    matmul_into("quantized_linear", x, dequantize_rows(w, dev, r0, r1, x.dtype()).t(), part, false,
                bias.defined() ? bias.narrow(0, r0, r1 - r0) : Tensor{});
    copy_(y.narrow(1, r0, r1 - r0), part);
  }
  return y;
}

Tensor quantized_matmul_t(const Tensor& g, const quant::QuantizedWeight& w) {
  check_operand("quantized_linear", g, w.out_features());
  NoGradGuard no_grad;
  const Device dev = g.device();
  const int64_t out = w.out_features(), rows = tile_rows(w);
  Tensor dx = zeros({g.size(0), w.in_features()}, DType::f32, dev);  // stays 0 when out == 0
  for (int64_t r0 = 0; r0 < out; r0 += rows) {
    const int64_t r1 = std::min(out, r0 + rows);
    const Tensor gs = rows >= out ? g : g.narrow(1, r0, r1 - r0);  // read in place (row stride out)
    matmul_into("quantized_linear.dx", gs, dequantize_rows(w, dev, r0, r1, g.dtype()), dx, r0 > 0);
  }
  return dx;
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
