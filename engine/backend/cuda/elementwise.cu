// Elementwise CUDA kernels: strided converting copy and fill (every dtype), and the unary
// activations with their derivatives over contiguous f32/bf16/f16 tensors, read and written
// in their own dtype with f32 compute (elementwise_math.h holds the maths). Strided kernels
// map a linear index to per-operand offsets through Layout (strided.cuh).
#include "engine/backend/cuda/elementwise_math.h"
#include "engine/backend/cuda/strided.cuh"

namespace engine::cuda::kernels {
namespace {

// Converting loads/stores through double for copy/fill: exact for every float dtype and for
// integers below 2^53 (same-dtype copies move raw bytes instead, exact for all).
__device__ double load_any(const void* p, int dt, int64_t i) {
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
__device__ void store_any(void* p, int dt, int64_t i, double v) {
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
  ENGINE_CUDA_GRID_LOOP(i, n) {
    int64_t off[2];
    offsets<2>(l, i, off);
    store_any(dst, ddt, off[0], load_any(src, sdt, off[1]));
  }
}

// Same dtype: move the element's bytes (U an unsigned integer of the element's size).
template <typename U>
__global__ void copy_same_kernel(U* dst, const U* src, Layout l, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    int64_t off[2];
    offsets<2>(l, i, off);
    dst[off[0]] = src[off[1]];
  }
}

__global__ void fill_kernel(void* dst, int dt, double v, Layout l, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    int64_t off[1];
    offsets<1>(l, i, off);
    store_any(dst, dt, off[0], v);
  }
}

template <typename T>
__global__ void unary_forward_kernel(cpu::Unary op, const T* x, T* y, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) y[i] = from_f32<T>(unary_value(op, to_f32(x[i])));
}

template <typename T>
__global__ void unary_backward_kernel(cpu::Unary op, const T* x, const T* y, const T* gy, T* gx, int64_t n) {
  ENGINE_CUDA_GRID_LOOP(i, n) {
    const float xv = x ? to_f32(x[i]) : 0.f, yv = y ? to_f32(y[i]) : 0.f;
    gx[i] = from_f32<T>(to_f32(gy[i]) * unary_derivative(op, xv, yv));
  }
}

int element_size(int dt) {
  switch (dt) {
    case F64: case I64: return 8;
    case F32: case I32: return 4;
    case BF16: case F16: return 2;
    default: return 1;
  }
}

}  // namespace

void copy(void* dst, int dst_dt, const void* src, int src_dt, const Layout& l, int64_t n) {
  if (n == 0) return;
  if (dst_dt != src_dt) {
    copy_kernel<<<grid_for(n), kBlock>>>(dst, dst_dt, src, src_dt, l, n);
    return check_launch("copy");
  }
  switch (element_size(dst_dt)) {
    case 8: copy_same_kernel<<<grid_for(n), kBlock>>>(static_cast<uint64_t*>(dst), static_cast<const uint64_t*>(src), l, n); break;
    case 4: copy_same_kernel<<<grid_for(n), kBlock>>>(static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(src), l, n); break;
    case 2: copy_same_kernel<<<grid_for(n), kBlock>>>(static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src), l, n); break;
    default: copy_same_kernel<<<grid_for(n), kBlock>>>(static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), l, n);
  }
  check_launch("copy");
}

void fill(void* dst, int dt, double value, const Layout& l, int64_t n) {
  if (n == 0) return;
  fill_kernel<<<grid_for(n), kBlock>>>(dst, dt, value, l, n);
  check_launch("fill");
}

void unary_forward(cpu::Unary op, int dt, const void* x, void* y, int64_t n) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, cpu::unary_name(op), {
    unary_forward_kernel<T><<<grid_for(n), kBlock>>>(op, static_cast<const T*>(x), static_cast<T*>(y), n);
  });
  check_launch("unary_forward");
}

void unary_backward(cpu::Unary op, int dt, const void* x, const void* y, const void* gy, void* gx, int64_t n) {
  if (n == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, cpu::unary_name(op), {
    unary_backward_kernel<T><<<grid_for(n), kBlock>>>(op, static_cast<const T*>(x), static_cast<const T*>(y),
                                                      static_cast<const T*>(gy), static_cast<T*>(gx), n);
  });
  check_launch("unary_backward");
}

}  // namespace engine::cuda::kernels
