// Small byte-level helpers shared by the safetensors, zip and pickle readers (not public API).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace engine::io::detail {

// prod(shape) * itemsize, or nullopt on overflow. Dims must already be checked non-negative.
inline std::optional<size_t> shape_nbytes(const std::vector<int64_t>& shape, size_t itemsize) {
  size_t n = itemsize;
  for (int64_t d : shape) {
    if (d != 0 && n > SIZE_MAX / static_cast<size_t>(d)) return std::nullopt;
    n *= static_cast<size_t>(d);
  }
  return n;
}

// Little-endian loads and stores, independent of the host's byte order.
inline uint64_t load_le(const uint8_t* p, int nbytes) {
  uint64_t v = 0;
  for (int i = nbytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t load_le64(const uint8_t* p) { return load_le(p, 8); }
inline uint32_t load_le32(const uint8_t* p) { return uint32_t(load_le(p, 4)); }
inline uint16_t load_le16(const uint8_t* p) { return uint16_t(load_le(p, 2)); }
inline void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace engine::io::detail
