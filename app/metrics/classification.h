// Classification metrics over integer labels, matching scikit-learn's definitions (GLUE reports
// accuracy for SST-2, F1 for MRPC/QQP, Matthews correlation for CoLA).
#pragma once
#include <cstdint>
#include <vector>

namespace app::metrics {

using Labels = std::vector<int64_t>;

// Fraction of predictions equal to the gold label.
double accuracy(const Labels& pred, const Labels& gold);

// F1 of one class (sklearn average="binary", pos_label=positive); 0 when undefined.
double f1_binary(const Labels& pred, const Labels& gold, int64_t positive = 1);

// Unweighted mean of per-class F1 over every label seen in gold or pred (sklearn "macro").
double f1_macro(const Labels& pred, const Labels& gold);

// F1 of the pooled true/false positives over all classes (sklearn "micro"); equals accuracy
// for single-label data.
double f1_micro(const Labels& pred, const Labels& gold);

// Matthews correlation coefficient, multiclass form (Gorodkin's R_K, as sklearn); 0 when a
// marginal is constant.
double matthews_corrcoef(const Labels& pred, const Labels& gold);

}  // namespace app::metrics
