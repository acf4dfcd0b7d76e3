// Accuracy, F1 and Matthews correlation (see classification.h).
#include "app/metrics/classification.h"

#include <cmath>
#include <map>
#include <set>

#include "engine/core/error.h"

namespace app::metrics {
namespace {

void check_pair(const char* metric, const Labels& pred, const Labels& gold) {
  engine::check<engine::ValueError>(pred.size() == gold.size() && !pred.empty(), "[", metric,
                                    "] ", pred.size(), " predictions but ", gold.size(),
                                    " gold labels");
}

struct Counts {
  double tp = 0, fp = 0, fn = 0;
};

Counts class_counts(const Labels& pred, const Labels& gold, int64_t c) {
  Counts k;
  for (size_t i = 0; i < pred.size(); ++i) {
    if (pred[i] == c && gold[i] == c) k.tp += 1;
    if (pred[i] == c && gold[i] != c) k.fp += 1;
    if (pred[i] != c && gold[i] == c) k.fn += 1;
  }
  return k;
}

// F1 = 2tp / (2tp + fp + fn), defined as 0 when there is nothing to score (sklearn's
// zero_division default, minus its warning).
double f1_of(const Counts& k) {
  const double denom = 2 * k.tp + k.fp + k.fn;
  return denom == 0 ? 0.0 : 2 * k.tp / denom;
}

}  // namespace

double accuracy(const Labels& pred, const Labels& gold) {
  check_pair("accuracy", pred, gold);
  double hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == gold[i];
  return hit / static_cast<double>(pred.size());
}

double f1_binary(const Labels& pred, const Labels& gold, int64_t positive) {
  check_pair("f1", pred, gold);
  return f1_of(class_counts(pred, gold, positive));
}

double f1_macro(const Labels& pred, const Labels& gold) {
  check_pair("f1_macro", pred, gold);
  std::set<int64_t> labels(gold.begin(), gold.end());
  labels.insert(pred.begin(), pred.end());
  double sum = 0;
  for (int64_t c : labels) sum += f1_of(class_counts(pred, gold, c));
  return sum / static_cast<double>(labels.size());
}

double f1_micro(const Labels& pred, const Labels& gold) {
  check_pair("f1_micro", pred, gold);
  std::set<int64_t> labels(gold.begin(), gold.end());
  labels.insert(pred.begin(), pred.end());
  Counts all;
  for (int64_t c : labels) {
    const Counts k = class_counts(pred, gold, c);
    all.tp += k.tp;
    all.fp += k.fp;
    all.fn += k.fn;
  }
  return f1_of(all);
}

double matthews_corrcoef(const Labels& pred, const Labels& gold) {
  check_pair("mcc", pred, gold);
  std::map<int64_t, double> t_sum, p_sum;  // per class: gold count, predicted count
  double correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    t_sum[gold[i]] += 1;
    p_sum[pred[i]] += 1;
    correct += pred[i] == gold[i];
  }
  const double s = static_cast<double>(pred.size());
  double tp_dot = 0, pp = 0, tt = 0;
  for (const auto& [c, t] : t_sum) {
    tt += t * t;
    auto it = p_sum.find(c);
    if (it != p_sum.end()) tp_dot += t * it->second;
  }
  for (const auto& [c, p] : p_sum) pp += p * p;
  const double cov_ytyp = correct * s - tp_dot;
  const double cov_ypyp = s * s - pp;
  const double cov_ytyt = s * s - tt;
  if (cov_ypyp * cov_ytyt == 0) return 0.0;
  return cov_ytyp / std::sqrt(cov_ytyt * cov_ypyp);
}

}  // namespace app::metrics
