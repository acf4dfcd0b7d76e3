#include "engine/core/dtype.h"

namespace engine {

f16::f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u) {  // inf or NaN
    bits = uint16_t(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0u));
    return;
  }
  if (mag >= 0x477ff000u) { bits = uint16_t(sign | 0x7c00u); return; }  // overflow -> inf
  if (mag < 0x38800000u) {  // subnormal half (or zero): round |f| * 2^24 to an integer
    float af;
    std::memcpy(&af, &mag, 4);
    float scaled = af * 16777216.0f;  // exact
    uint32_t r = uint32_t(scaled);
    float rem = scaled - float(r);
    if (rem > 0.5f || (rem == 0.5f && (r & 1u))) ++r;
    bits = uint16_t(sign | r);
    return;
  }
  uint32_t e = ((mag >> 23) - 112u) << 10;  // rebias 127 -> 15
  uint32_t m = (mag >> 13) & 0x3ffu;
  uint32_t h = e | m;
  uint32_t round_bits = mag & 0x1fffu;
  if (round_bits > 0x1000u || (round_bits == 0x1000u && (h & 1u))) ++h;  // may carry into exp
  bits = uint16_t(sign | h);
}

f16::operator float() const {
  uint32_t sign = uint32_t(bits & 0x8000u) << 16;
  uint32_t e = (bits >> 10) & 0x1fu, m = bits & 0x3ffu;
  uint32_t out;
  if (e == 0) {
    if (m == 0) {
      out = sign;
    } else {  // subnormal: value = m * 2^-24
      float f = float(m) * (1.0f / 16777216.0f);
      std::memcpy(&out, &f, 4);
      out |= sign;
    }
  } else if (e == 31) {
    out = sign | 0x7f800000u | (m << 13);
  } else {
    out = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &out, 4);
  return f;
}

size_t dtype_size(DType dt) {
  switch (dt) {
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    case DType::bf16: case DType::f16: return 2;
    case DType::boolean: return 1;
  }
  return 0;
}

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::boolean: return "bool";
  }
  return "?";
}

bool is_floating(DType dt) {
  return dt == DType::f32 || dt == DType::f64 || dt == DType::bf16 || dt == DType::f16;
}
bool is_integral(DType dt) { return !is_floating(dt); }

DType promote(DType a, DType b) {
  if (a == b) return a;
  auto rank = [](DType d) {
    switch (d) {
      case DType::boolean: return 0;
      case DType::i32: return 1;
      case DType::i64: return 2;
      case DType::f16: return 3;
      case DType::bf16: return 4;
      case DType::f32: return 5;
      case DType::f64: return 6;
    }
    return 0;
  };
  // f16 with bf16 has no exact common type: f32, as torch does.
  if ((a == DType::f16 && b == DType::bf16) || (a == DType::bf16 && b == DType::f16)) return DType::f32;
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace engine
