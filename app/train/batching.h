// From text examples to models::Batch: tokenised features for the three kinds of task
// (causal-LM data-to-text, classification, seq2seq), dynamic padding per batch, and length
// bucketing so that a batch holds examples of similar length (less padding to compute).
//
// Causal LM data-to-text (GPT-2, the LoRA paper's E2E setup): input = source + separator +
// target + eos; labels copy the input with -100 on the source and separator (the model is not
// trained to produce the table) and on padding. The loss then covers the target and its eos.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/data/data_to_text.h"
#include "app/data/examples.h"
#include "app/train/dataset.h"
#include "models/model.h"
#include "models/tokenizers/tokenizer.h"

namespace app::train {

inline constexpr int64_t kIgnoreIndex = -100;

// One tokenised example before padding.
struct Features {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> labels;          // token labels (causal LM, MLM) or decoder targets (seq2seq)
  std::vector<int64_t> token_type_ids;  // empty = all zeros (no token_type_ids in the batch)
  int64_t label = -1;                   // class index (classification)
  size_t length() const { return input_ids.size() + (labels.size() > input_ids.size() ? labels.size() : 0); }
};

enum class TaskKind { causal_lm, masked_lm, classification, seq2seq };  // the LM kinds: labels per token

struct CausalLmFormat {
  std::string separator = " = ";  // between the linearised source and the target
  size_t max_length = 256;        // longer examples lose the end of their source first
};

// source + separator + " " + target + eos (the eos is the tokenizer's, required).
Features causal_lm_features(const models::Tokenizer& tok, std::string_view source, std::string_view target,
                            const CausalLmFormat& format = {});
// Every (input, reference) pair of data-to-text examples as one training example: the source
// is linearised (E2E MR via linearize_e2e, WebNLG triples via linearize_triples).
std::vector<Features> data_to_text_features(const models::Tokenizer& tok,
                                            const std::vector<data::DataToTextExample>& examples,
                                            const CausalLmFormat& format = {});
// The linearised source of an example (what the prompt starts with).
std::string linearized_source(const data::DataToTextExample& example);
// The prompt alone (source + separator), for generation.
std::vector<int64_t> causal_lm_prompt(const models::Tokenizer& tok, std::string_view source,
                                      const CausalLmFormat& format = {});
// text (+ text_pair) with the tokenizer's special tokens, truncated to max_length; label kept.
Features classification_features(const models::Tokenizer& tok, const data::Example& example, size_t max_length = 256);
// Encoder input = source (+ eos when the tokenizer adds none), labels = target + eos.
Features seq2seq_features(const models::Tokenizer& tok, std::string_view source, std::string_view target,
                          size_t max_source = 256, size_t max_target = 128);

// Pads the examples to the longest one: input_ids with pad_id, attention_mask 0, token labels
// -100; classification labels form a [B] tensor; seq2seq labels are padded separately.
models::Batch collate(std::span<const Features* const> examples, TaskKind kind, int64_t pad_id);

// Seeded length bucketing: shuffle, cut into buckets of bucket_batches * batch_size
// examples, sort each bucket by length, cut into batches, shuffle the batches. A permutation.
std::vector<size_t> bucketed_order(const std::vector<size_t>& lengths, size_t batch_size, size_t bucket_batches,
                                   uint64_t seed);

// A Dataset over features; bucket_batches = 0 turns bucketing off (plain seeded shuffle).
Dataset features_dataset(std::shared_ptr<const std::vector<Features>> features, TaskKind kind, int64_t pad_id,
                         size_t batch_size = 0, size_t bucket_batches = 0);

}  // namespace app::train
