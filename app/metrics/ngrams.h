// N-gram counting shared by BLEU, NIST and CIDEr. An n-gram is its tokens joined by single
// spaces (tokens never contain spaces once tokenised), kept in one map per order.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

namespace app::metrics {

using NgramCounts = std::unordered_map<std::string, double>;

// counts[n-1] holds the n-grams of order n, for n = 1..max_order.
inline std::vector<NgramCounts> count_ngrams(const std::vector<std::string>& tokens,
                                             int max_order) {
  std::vector<NgramCounts> counts(max_order);
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string key = tokens[i];
    for (int n = 1; n <= max_order && i + n <= tokens.size(); ++n) {
      if (n > 1) key += ' ' + tokens[i + n - 1];
      counts[n - 1][key] += 1;
    }
  }
  return counts;
}

// Per order, the largest count each n-gram reaches in any one reference ("clipping" counts).
inline std::vector<NgramCounts> max_ngram_counts(
    const std::vector<std::vector<std::string>>& refs, int max_order) {
  std::vector<NgramCounts> merged(max_order);
  for (const auto& ref : refs) {
    auto counts = count_ngrams(ref, max_order);
    for (int n = 0; n < max_order; ++n)
      for (const auto& [gram, c] : counts[n]) {
        double& m = merged[n][gram];
        if (c > m) m = c;
      }
  }
  return merged;
}

}  // namespace app::metrics
