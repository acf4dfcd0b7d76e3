// LoKr config fields and factor shapes (see config.h).
#include "peft/methods/lokr/config.h"

namespace peft::lokr {

void LokrConfig::fields(ConfigFields& f) {
  LycorisConfig::fields(f);
  f("decompose_both", decompose_both);
  f("decompose_factor", decompose_factor);
}

std::pair<int64_t, int64_t> factorization(int64_t dimension, int64_t factor) {
  if (factor > 0 && dimension % factor == 0) {
    int64_t m = factor, n = dimension / factor;
    return m > n ? std::pair{n, m} : std::pair{m, n};
  }
  if (factor < 0) factor = dimension;
  int64_t m = 1, n = dimension;
  const int64_t length = m + n;  // never updated in PEFT's loop either: only `factor` stops it
  while (m < n) {
    int64_t new_m = m + 1;
    while (dimension % new_m != 0) ++new_m;
    const int64_t new_n = dimension / new_m;
    if (new_m + new_n > length || new_m > factor) break;
    m = new_m, n = new_n;
  }
  return m > n ? std::pair{n, m} : std::pair{m, n};
}

LokrShape lokr_shape(int64_t out_features, int64_t in_features, int64_t r, bool decompose_both, int64_t decompose_factor) {
  const auto [in_m, in_n] = factorization(in_features, decompose_factor);
  const auto [out_l, out_k] = factorization(out_features, decompose_factor);
  LokrShape s{out_l, out_k, in_m, in_n, true, true};
  // PEFT compares r with max(...)/2 in floating point.
  s.full_w1 = !(decompose_both && static_cast<double>(r) < static_cast<double>(std::max(out_l, in_m)) / 2);
  s.full_w2 = !(static_cast<double>(r) < static_cast<double>(std::max(out_k, in_n)) / 2);
  return s;
}

}  // namespace peft::lokr
