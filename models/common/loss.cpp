// Loss helpers of the HF heads (see loss.h).
#include "models/common/loss.h"

#include "engine/core/error.h"
#include "engine/engine.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"

namespace models::common {
using engine::DType;

Tensor token_cross_entropy(const Tensor& logits, const Tensor& labels) {
  const int64_t C = logits.size(-1);
  engine::check<engine::ShapeError>(logits.numel() == labels.numel() * C, "[cross_entropy] logits ",
                                    engine::shape_str(logits.shape()), " do not match labels ",
                                    engine::shape_str(labels.shape()));
  Tensor flat = logits.reshape({-1, C});                   // [N,C]
  Tensor targets = labels.reshape({-1}).to(DType::i64);    // [N]
  return engine::cross_entropy(flat, targets, /*ignore_index=*/-100);
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  return engine::mean(engine::square(input - target.to(input.dtype())));
}

Tensor bce_with_logits_loss(const Tensor& logits, const Tensor& target) {
  // max(x,0) - x*y + log(1 + exp(-|x|)): torch's numerically stable form.
  Tensor y = target.to(logits.dtype());
  Tensor softplus = engine::log(engine::exp(-engine::abs(logits)) + 1.0);
  return engine::mean(engine::maximum(logits, 0.0) - logits * y + softplus);
}

ClassificationConfig read_classification_config(const ConfigReader& config) {
  ClassificationConfig c;
  const nlohmann::json& j = config.json();
  if (j.contains("id2label") && j["id2label"].is_object() && !j["id2label"].empty())
    c.num_labels = int64_t(j["id2label"].size());
  else
    c.num_labels = config.positive_int("num_labels", 2);
  c.problem_type = config.get_string("problem_type", "");
  if (!c.problem_type.empty() && c.problem_type != "regression" && c.problem_type != "single_label_classification" &&
      c.problem_type != "multi_label_classification")
    config.fail("problem_type",
                "must be regression, single_label_classification or multi_label_classification, got \"" +
                    c.problem_type + "\"");
  return c;
}

Tensor sequence_classification_loss(const Tensor& logits, const Tensor& labels, const ClassificationConfig& config) {
  std::string type = config.problem_type;
  if (type.empty()) {
    if (config.num_labels == 1) type = "regression";
    else if (labels.dtype() == DType::i64 || labels.dtype() == DType::i32) type = "single_label_classification";
    else type = "multi_label_classification";
  }
  if (type == "regression")  // HF squeezes both sides when there is a single label
    return config.num_labels == 1 ? mse_loss(logits.reshape({-1}), labels.reshape({-1})) : mse_loss(logits, labels);
  if (type == "single_label_classification") return token_cross_entropy(logits, labels);
  return bce_with_logits_loss(logits, labels);
}

}  // namespace models::common
