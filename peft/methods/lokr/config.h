// LoKr's config (PEFT's LoKrConfig, tuners/lokr/config.py): the LyCORIS fields plus how the
// Kronecker factors are shaped.
#pragma once
#include <utility>

#include "peft/methods/loha/lycoris.h"

namespace peft::lokr {

struct LokrConfig : lycoris::LycorisConfig {
  bool decompose_both = false;   // also write w1 as w1_a·w1_b when r is small enough
  int64_t decompose_factor = -1;  // -1: the most balanced factorisation of each dimension

  LokrConfig() { peft_type = "LOKR"; }
  void fields(ConfigFields& f) override;
};

// PEFT's (LyCORIS's) `factorization(dimension, factor)`: (m, n) with m·n = dimension, m <= n.
// With factor > 0 dividing the dimension: (factor, dimension/factor) ordered; otherwise the
// factor pair closest to balanced whose smaller part does not exceed `factor` (-1: any).
std::pair<int64_t, int64_t> factorization(int64_t dimension, int64_t factor = -1);

// The factor shapes of one layer, PEFT's rule (LoKrLayer.update_layer for Linear):
//   out = out_l·out_k, in = in_m·in_n;  w1 [out_l, in_m], w2 [out_k, in_n];
//   w1 is full unless decompose_both and r < max(out_l, in_m)/2; w2 is full unless
//   r < max(out_k, in_n)/2 (then w2_a [out_k, r] · w2_b [r, in_n]).
struct LokrShape {
  int64_t out_l, out_k, in_m, in_n;
  bool full_w1, full_w2;
};
LokrShape lokr_shape(int64_t out_features, int64_t in_features, int64_t r, bool decompose_both, int64_t decompose_factor);

}  // namespace peft::lokr
