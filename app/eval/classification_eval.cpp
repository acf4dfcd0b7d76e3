// Classifier evaluation (see classification_eval.h).
#include "app/eval/classification_eval.h"

#include <algorithm>

#include "app/metrics/classification.h"
#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"

namespace app::eval {

namespace {

// Argmax over the last dimension of row-major logits with `classes` columns.
std::vector<int64_t> argmax_rows(const std::vector<float>& logits, int64_t classes) {
  std::vector<int64_t> out;
  for (size_t row = 0; row + size_t(classes) <= logits.size(); row += size_t(classes)) {
    const auto begin = logits.begin() + long(row);
    out.push_back(std::max_element(begin, begin + classes) - begin);
  }
  return out;
}

}  // namespace

std::map<std::string, double> classification_metrics(const std::vector<int64_t>& pred, const std::vector<int64_t>& gold,
                                                     int64_t num_labels) {
  return {{"accuracy", metrics::accuracy(pred, gold)},
          {"f1", num_labels == 2 ? metrics::f1_binary(pred, gold) : metrics::f1_macro(pred, gold)},
          {"mcc", metrics::matthews_corrcoef(pred, gold)}};
}

ClassificationEval evaluate_classification(const Forward& forward, const std::vector<train::Features>& features,
                                           train::TaskKind kind, int64_t pad_id, size_t batch_size) {
  engine::check<engine::ValueError>(!features.empty() && batch_size > 0, "[eval] no examples to classify");
  engine::NoGradGuard no_grad;
  ClassificationEval result;
  std::vector<int64_t> pred, gold;
  int64_t classes = 0;
  for (size_t start = 0; start < features.size(); start += batch_size) {
    std::vector<const train::Features*> rows;
    for (size_t i = start; i < std::min(features.size(), start + batch_size); ++i) rows.push_back(&features[i]);
    const models::Batch batch = train::collate(rows, kind, pad_id);
    const engine::Tensor logits = forward(batch).logits;  // [B,C] or [B,T,C]
    classes = logits.size(-1);
    const std::vector<int64_t> argmax = argmax_rows(logits.to_vector<float>(), classes);
    const size_t per_row = argmax.size() / rows.size();  // 1, or T (padded length)
    for (size_t b = 0; b < rows.size(); ++b) {
      std::vector<int64_t> mine;
      if (kind == train::TaskKind::classification) {
        mine.push_back(argmax[b]);
        gold.push_back(rows[b]->label);
      } else {
        for (size_t t = 0; t < rows[b]->labels.size(); ++t) {
          if (rows[b]->labels[t] == train::kIgnoreIndex) continue;
          mine.push_back(argmax[b * per_row + t]);
          gold.push_back(rows[b]->labels[t]);
        }
      }
      pred.insert(pred.end(), mine.begin(), mine.end());
      result.predictions.push_back(std::move(mine));
    }
  }
  result.metrics = classification_metrics(pred, gold, classes);
  return result;
}

}  // namespace app::eval
