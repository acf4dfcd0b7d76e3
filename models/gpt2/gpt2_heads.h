// The task heads on top of GPT2Model, with HF's module names:
//   GPT2LMHeadModel: transformer, lm_head (no bias; its weight is wte's unless
//                    tie_word_embeddings is false)
//   GPT2ForSequenceClassification: transformer, score (no bias), pooling the last non-pad token
#pragma once
#include "models/gpt2/gpt2_model.h"

namespace models::gpt2 {

// Shared plumbing: the "transformer" child and the loading rules of a head.
class GPT2HeadModel : public GPT2Base {
 public:
  engine::nn::Embedding& input_embeddings() override { return base().input_embeddings(); }
  // Head parameters are initialised when a base checkpoint lacks them.
  bool may_be_missing(const std::string& key) const override { return key.rfind(base_prefix(), 0) != 0; }

 protected:
  GPT2HeadModel(const GPT2Config& c, const nlohmann::json& config);
  void add_base();  // registers "transformer"; the first thing each head's constructor does
  GPT2Model& base() const;
  ModelOutput run_base(const Batch& batch, const ForwardOptions& options) const;
};

class GPT2LMHeadModel : public GPT2HeadModel {
 public:
  GPT2LMHeadModel(const GPT2Config& c, const nlohmann::json& config);
  std::string type_name() const override { return "GPT2LMHeadModel"; }
  // logits [B,T,V]; loss = CE(logits[:, :-1], labels[:, 1:]) with -100 ignored.
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
  std::vector<std::pair<std::string, std::string>> tied_weights() const override;
};

class GPT2ForSequenceClassification : public GPT2HeadModel {
 public:
  GPT2ForSequenceClassification(const GPT2Config& c, const nlohmann::json& config);
  std::string type_name() const override { return "GPT2ForSequenceClassification"; }
  // logits [B,num_labels] at each row's pooled position (see sequence_end_positions).
  ModelOutput forward(const Batch& batch, const ForwardOptions& options = {}) override;
};

// transformers 4.33 GPT2ForSequenceClassification: the pooled position of each row is
// (index of the first pad_token_id in input_ids) - 1, which wraps to the last position (T-1)
// when the row has no pad or starts with one (torch's index -1). Without input_ids (prompt
// methods pass embeddings) or without a pad token, the last position.
std::vector<int64_t> sequence_end_positions(const Tensor& input_ids, std::optional<int64_t> pad_token_id, int64_t T);

}  // namespace models::gpt2
