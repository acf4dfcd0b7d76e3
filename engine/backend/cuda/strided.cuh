// Device helpers shared by the strided elementwise and reduction kernels (elementwise.cu,
// binary.cu, reduce.cu): per-operand offsets of a row-major index through a Layout (layout.h),
// and typed loads/stores of every storage dtype into its compute type (float for f32/bf16/f16,
// double for f64, the integer for i32/i64, int32 for bool), plus a dispatch over all seven.
#pragma once
#include <type_traits>

#include "engine/backend/cuda/common.cuh"
#include "engine/backend/cuda/layout.h"

namespace engine::cuda::kernels {

template <typename T>
struct ComputeOf { using type = float; };  // f32, bf16, f16
template <>
struct ComputeOf<double> { using type = double; };
template <>
struct ComputeOf<int32_t> { using type = int32_t; };
template <>
struct ComputeOf<int64_t> { using type = int64_t; };
template <>
struct ComputeOf<bool> { using type = int32_t; };
template <typename T>
using compute_t = typename ComputeOf<T>::type;

template <typename T>
inline constexpr bool is_float_storage_v =
    std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>;

template <typename T>
__device__ __forceinline__ compute_t<T> load(const T* p, int64_t i) {
  if constexpr (is_float_storage_v<T>) return to_f32(p[i]);
  else if constexpr (std::is_same_v<T, bool>) return p[i] ? 1 : 0;
  else return p[i];
}

// Half types round to nearest even once, from the f32 result (as the CPU's T(float) does).
template <typename T>
__device__ __forceinline__ void store(T* p, int64_t i, compute_t<T> v) {
  if constexpr (is_float_storage_v<T>) p[i] = from_f32<T>(v);
  else if constexpr (std::is_same_v<T, bool>) p[i] = v != 0;
  else p[i] = T(v);
}

// Runs `body` with T bound to the storage type of dtype code `dt` (any of the seven).
#define ENGINE_CUDA_DISPATCH_ANY(dt, op_name, ...)                                                        \
  switch (dt) {                                                                                           \
    case ::engine::cuda::kernels::F32: { using T = float; __VA_ARGS__; break; }                           \
    case ::engine::cuda::kernels::F64: { using T = double; __VA_ARGS__; break; }                          \
    case ::engine::cuda::kernels::BF16: { using T = __nv_bfloat16; __VA_ARGS__; break; }                  \
    case ::engine::cuda::kernels::F16: { using T = __half; __VA_ARGS__; break; }                          \
    case ::engine::cuda::kernels::I32: { using T = int32_t; __VA_ARGS__; break; }                         \
    case ::engine::cuda::kernels::I64: { using T = int64_t; __VA_ARGS__; break; }                         \
    case ::engine::cuda::kernels::BOOL: { using T = bool; __VA_ARGS__; break; }                           \
    default: ::engine::fail<::engine::DTypeError>("[", op_name, "] unknown dtype code ", int(dt));        \
  }

}  // namespace engine::cuda::kernels
