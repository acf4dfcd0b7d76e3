// The QLoRA CUDA entry points for builds without nvcc (ENGINE_CUDA off): every one says that
// this build has no CUDA backend.
#ifndef ENGINE_CUDA
#include "engine/backend/cuda/cuda_quant.h"

namespace engine::cuda {
namespace {
[[noreturn]] void no_backend(const char* op, Device d) {
  fail<NoKernelError>("[", op, "] no kernel for ", d.str(), ": this build has no CUDA backend");
}
}  // namespace

quant::QuantizedWeight::DeviceParts upload_quantized(const quant::QuantizedWeight&, Device device) {
  no_backend("QuantizedWeight.to", device);
}
Tensor dequantize_rows(const quant::QuantizedWeight&, Device device, int64_t, int64_t, DType) {
  no_backend("dequantize", device);
}
Tensor quantized_matmul(const Tensor& x, const quant::QuantizedWeight&, const Tensor&) { no_backend("quantized_linear", x.device()); }
Tensor quantized_matmul_t(const Tensor& g, const quant::QuantizedWeight&) {
  no_backend("quantized_linear", g.device());
}

}  // namespace engine::cuda
#endif  // !ENGINE_CUDA
