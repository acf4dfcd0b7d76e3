// The losses HF heads compute from logits and labels, shared by BERT, GPT-2 and T5 heads:
// token cross-entropy with -100 ignored, and sequence classification's three problem types.
#pragma once
#include <string>

#include "models/loading/config_reader.h"
#include "models/model.h"

namespace models::common {

// Mean cross-entropy of logits [..., C] against integer labels [...], positions with label
// -100 ignored (torch's CrossEntropyLoss defaults).
Tensor token_cross_entropy(const Tensor& logits, const Tensor& labels);

// Mean squared error and mean binary cross-entropy on logits (torch's MSELoss and
// BCEWithLogitsLoss, reduction "mean"); labels are converted to the logits' dtype.
Tensor mse_loss(const Tensor& input, const Tensor& target);
Tensor bce_with_logits_loss(const Tensor& logits, const Tensor& target);

// config.json's classification settings, as PretrainedConfig reads them: num_labels is
// len(id2label) when id2label is given, else "num_labels", else 2; problem_type is "" (decide
// from the labels), "regression", "single_label_classification" or "multi_label_classification".
struct ClassificationConfig {
  int64_t num_labels = 2;
  std::string problem_type;
};
ClassificationConfig read_classification_config(const ConfigReader& config);

// HF's *ForSequenceClassification loss (transformers 4.33 modeling_bert.py): with no
// problem_type, num_labels == 1 means regression (MSE), integer labels single-label
// cross-entropy, anything else multi-label BCE-with-logits. logits [B, num_labels].
Tensor sequence_classification_loss(const Tensor& logits, const Tensor& labels, const ClassificationConfig& config);

}  // namespace models::common
