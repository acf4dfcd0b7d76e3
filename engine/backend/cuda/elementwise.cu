// Elementwise CUDA kernels: converting strided copy and fill (every dtype), broadcasting
// binary arithmetic and the unary activations with their derivatives (f32). Strided kernels
// map a linear index to per-operand offsets through Layout; no templates per dtype, a
// switch on the dtype code at load/store keeps the build small.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "engine/backend/cuda/kernels.h"
#include "engine/core/error.h"

namespace engine::cuda::kernels {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

void check_launch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) fail<Error>("[cuda] kernel ", kernel, " failed to launch: ", cudaGetErrorString(err));
}

// Offsets of element i (row-major over l.shape) in the first `nops` operands.
template <int nops>
__device__ void offsets(const Layout& l, int64_t i, int64_t (&off)[3]) {
  for (int k = 0; k < 3; ++k) off[k] = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    int64_t idx = i % l.shape[d];
    i /= l.shape[d];
    for (int k = 0; k < nops; ++k) off[k] += idx * l.stride[k][d];
  }
}

__device__ double load(const void* p, int dt, int64_t i) {
  switch (dt) {
    case F32: return static_cast<const float*>(p)[i];
    case F64: return static_cast<const double*>(p)[i];
    case BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case F16: return __half2float(static_cast<const __half*>(p)[i]);
    case I32: return static_cast<const int32_t*>(p)[i];
    case I64: return double(static_cast<const int64_t*>(p)[i]);
    default: return static_cast<const bool*>(p)[i] ? 1.0 : 0.0;
  }
}

// Half types round from float, as the CPU's D(float_or_same(x)) does.
__device__ void store(void* p, int dt, int64_t i, double v) {
  switch (dt) {
    case F32: static_cast<float*>(p)[i] = float(v); break;
    case F64: static_cast<double*>(p)[i] = v; break;
    case BF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(float(v)); break;
    case F16: static_cast<__half*>(p)[i] = __float2half_rn(float(v)); break;
    case I32: static_cast<int32_t*>(p)[i] = int32_t(v); break;
    case I64: static_cast<int64_t*>(p)[i] = int64_t(v); break;
    default: static_cast<bool*>(p)[i] = v != 0.0;
  }
}

__global__ void copy_kernel(void* dst, int ddt, const void* src, int sdt, Layout l, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offsets<2>(l, i, off);
    store(dst, ddt, off[0], load(src, sdt, off[1]));
  }
}

__global__ void fill_kernel(void* dst, int dt, double v, Layout l, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offsets<1>(l, i, off);
    store(dst, dt, off[0], v);
  }
}

__global__ void binary_kernel(BinOp op, float* out, const float* a, const float* b, Layout l, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offsets<3>(l, i, off);
    float x = a[off[1]], y = b[off[2]];
    float r = op == BinOp::Add ? x + y : op == BinOp::Sub ? x - y : op == BinOp::Mul ? x * y : x / y;
    out[off[0]] = r;
  }
}

constexpr float kSqrt2OverPi = 0.79788456080286535588f, kGeluTanhC = 0.044715f;

__device__ float sigmoidf(float x) { return 1.f / (1.f + expf(-x)); }
__device__ float normal_cdf(float x) { return 0.5f * erfcf(-x * 0.70710678118654752440f); }
__device__ float normal_pdf(float x) { return expf(-0.5f * x * x) * 0.39894228040143267794f; }
// 0.5x(1 + tanh u) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³).
__device__ float gelu_tanh_s(float x) { return sigmoidf(2.f * kSqrt2OverPi * x * (1.f + kGeluTanhC * x * x)); }

// The f32 twins of backend/cpu/simd_unary_scalar.h.
__device__ float forward(cpu::Unary op, float x) {
  using U = cpu::Unary;
  switch (op) {
    case U::Exp: return expf(x);
    case U::Log: return logf(x);
    case U::Sqrt: return sqrtf(x);
    case U::Rsqrt: return rsqrtf(x);
    case U::Tanh: return tanhf(x);
    case U::Sigmoid: return sigmoidf(x);
    case U::Relu: return x < 0.f ? 0.f : x;  // keeps NaN
    case U::Gelu: return x * normal_cdf(x);
    case U::GeluTanh: return x * gelu_tanh_s(x);
    case U::Silu: return x * sigmoidf(x);
    case U::Neg: return -x;
    case U::Abs: return fabsf(x);
    case U::Square: return x * x;
  }
  return 0.f;
}

__device__ float derivative(cpu::Unary op, float x, float y) {
  using U = cpu::Unary;
  switch (op) {
    case U::Exp: return y;
    case U::Log: return 1.f / x;
    case U::Sqrt: return 0.5f / y;
    case U::Rsqrt: return -0.5f * y * y * y;
    case U::Tanh: return 1.f - y * y;
    case U::Sigmoid: return y * (1.f - y);
    case U::Relu: return x > 0.f ? 1.f : 0.f;
    case U::Gelu: return normal_cdf(x) + x * normal_pdf(x);
    case U::GeluTanh: {
      float s = gelu_tanh_s(x), du2 = 2.f * kSqrt2OverPi * (1.f + 3.f * kGeluTanhC * x * x);
      return s + x * s * (1.f - s) * du2;
    }
    case U::Silu: {
      float s = sigmoidf(x);
      return s * (1.f + x * (1.f - s));
    }
    case U::Neg: return -1.f;
    case U::Abs: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case U::Square: return 2.f * x;
  }
  return 0.f;
}

__global__ void unary_forward_kernel(cpu::Unary op, const float* x, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = forward(op, x[i]);
}

__global__ void unary_backward_kernel(cpu::Unary op, const float* x, const float* y, const float* gy, float* gx,
                                      int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    gx[i] = gy[i] * derivative(op, x ? x[i] : 0.f, y ? y[i] : 0.f);
}

// Grid-stride loops: cap the grid, every element is still visited.
unsigned grid(int64_t n) { return unsigned(blocks_for(n) < 65535u ? blocks_for(n) : 65535u); }

}  // namespace

void copy(void* dst, int dst_dt, const void* src, int src_dt, const Layout& l, int64_t n) {
  if (n == 0) return;
  copy_kernel<<<grid(n), kThreads>>>(dst, dst_dt, src, src_dt, l, n);
  check_launch("copy");
}

void fill(void* dst, int dt, double value, const Layout& l, int64_t n) {
  if (n == 0) return;
  fill_kernel<<<grid(n), kThreads>>>(dst, dt, value, l, n);
  check_launch("fill");
}

void binary(BinOp op, float* out, const float* a, const float* b, const Layout& l, int64_t n) {
  if (n == 0) return;
  binary_kernel<<<grid(n), kThreads>>>(op, out, a, b, l, n);
  check_launch("binary");
}

void unary_forward(cpu::Unary op, const float* x, float* y, int64_t n) {
  if (n == 0) return;
  unary_forward_kernel<<<grid(n), kThreads>>>(op, x, y, n);
  check_launch("unary_forward");
}

void unary_backward(cpu::Unary op, const float* x, const float* y, const float* gy, float* gx, int64_t n) {
  if (n == 0) return;
  unary_backward_kernel<<<grid(n), kThreads>>>(op, x, y, gy, gx, n);
  check_launch("unary_backward");
}

}  // namespace engine::cuda::kernels
