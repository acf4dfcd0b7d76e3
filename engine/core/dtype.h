// Element types and the one dispatch helper that turns a runtime DType into a C++ type.
// f32 is the training default, f64 is for gradchecks, bf16/f16 are storage types whose
// compute upcasts to f32, integers and bool index and mask.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "engine/core/error.h"

namespace engine {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64, boolean };

// bfloat16: the top 16 bits of an IEEE float; conversion rounds to nearest even.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  bf16(float f) {  // NOLINT: implicit like a numeric type
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) { bits = uint16_t((u >> 16) | 0x40); return; }  // NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    bits = uint16_t(u >> 16);
  }
  operator float() const {  // NOLINT
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

// IEEE half precision; conversion through the F16C-free bit algorithm (round to nearest even).
struct f16 {
  uint16_t bits = 0;
  f16() = default;
  f16(float f);             // NOLINT
  operator float() const;   // NOLINT
};

// Half types read as float; every other type as itself (so D(float_or_same(x)) converts any pair).
template <typename T>
inline auto float_or_same(T x) {
  if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) return float(x);
  else return x;
}

size_t dtype_size(DType dt);
const char* dtype_name(DType dt);
bool is_floating(DType dt);   // f32, f64, bf16, f16
bool is_integral(DType dt);   // i32, i64, bool

// The C++ type of each DType and back.
template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<f16> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

// Calls fn.template operator()<T>() with T the C++ type of `dt`:
//   dispatch(dt, "add", [&]<typename T>() { ... });
template <typename Fn>
decltype(auto) dispatch(DType dt, const char* op, Fn&& fn) {
  switch (dt) {
    case DType::f32: return fn.template operator()<float>();
    case DType::f64: return fn.template operator()<double>();
    case DType::bf16: return fn.template operator()<bf16>();
    case DType::f16: return fn.template operator()<f16>();
    case DType::i32: return fn.template operator()<int32_t>();
    case DType::i64: return fn.template operator()<int64_t>();
    case DType::boolean: return fn.template operator()<bool>();
  }
  fail<DTypeError>("[", op, "] unknown dtype");
}

// Compute kernels run in f32 or f64 only: half types are upcast to f32 before calling them.
template <typename Fn>
decltype(auto) dispatch_compute(DType dt, const char* op, Fn&& fn) {
  switch (dt) {
    case DType::f32: return fn.template operator()<float>();
    case DType::f64: return fn.template operator()<double>();
    default: break;
  }
  fail<DTypeError>("[", op, "] expects a floating dtype (f32/f64), got ", dtype_name(dt));
}

// The type elementwise kernels compute in: half types upcast to f32, others unchanged.
inline DType compute_dtype(DType d) { return d == DType::bf16 || d == DType::f16 ? DType::f32 : d; }
// The type floating kernels (activations, norms) compute in: f64 stays, all else is f32.
inline DType float_compute_dtype(DType d) { return d == DType::f64 ? DType::f64 : DType::f32; }

// Result type of a binary op between two dtypes (like torch: float wins, wider wins).
DType promote(DType a, DType b);

}  // namespace engine
