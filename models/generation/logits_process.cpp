// HF's logits warpers on one row (see logits_process.h).
#include "models/generation/logits_process.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace models::generation {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// softmax in double (the filtered -inf entries get probability 0).
std::vector<double> softmax(std::span<const float> scores) {
  const float mx = *std::max_element(scores.begin(), scores.end());
  std::vector<double> p(scores.size());
  double total = 0;
  for (size_t i = 0; i < scores.size(); ++i) total += p[i] = std::exp(double(scores[i]) - mx);
  for (double& x : p) x /= total;
  return p;
}

}  // namespace

void apply_temperature(std::span<float> scores, double temperature) {
  for (float& s : scores) s = float(s / temperature);
}

void apply_top_k(std::span<float> scores, int64_t k) {
  if (k <= 0 || k >= int64_t(scores.size())) return;
  std::vector<float> sorted(scores.begin(), scores.end());
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<float>());
  const float kth = sorted[size_t(k - 1)];
  for (float& s : scores)
    if (s < kth) s = kNegInf;
}

void apply_top_p(std::span<float> scores, double top_p) {
  if (top_p >= 1.0) return;
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::vector<float> sorted(order.size());
  for (size_t i = 0; i < order.size(); ++i) sorted[i] = scores[order[i]];
  const std::vector<double> p = softmax(sorted);
  double cumulative = 0;
  for (size_t i = 0; i + 1 < order.size(); ++i) {  // the last (most likely) token always stays
    cumulative += p[i];
    if (cumulative <= 1.0 - top_p) scores[order[i]] = kNegInf;
  }
}

int64_t argmax(std::span<const float> scores) {
  return int64_t(std::max_element(scores.begin(), scores.end()) - scores.begin());
}

void log_softmax(std::span<float> scores) {
  const float mx = *std::max_element(scores.begin(), scores.end());
  double total = 0;
  for (float s : scores) total += std::exp(double(s) - mx);
  const double lse = mx + std::log(total);
  for (float& s : scores) s = float(double(s) - lse);
}

int64_t sample(std::span<const float> scores, engine::Generator& gen) {
  const std::vector<double> p = softmax(scores);
  const double u = engine::rand({1}, engine::DType::f64, gen).item<double>();
  double cumulative = 0;
  int64_t last = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;  // filtered tokens are never drawn, even at u ~ 1
    cumulative += p[i];
    last = int64_t(i);
    if (u < cumulative) return last;
  }
  return last;
}

}  // namespace models::generation
