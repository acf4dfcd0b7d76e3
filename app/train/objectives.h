// The pretraining objectives' data: a corpus tokenised into fixed-length blocks, and the
// per-batch corruption of those blocks for each architecture.
//   GPT-2  causal LM: documents joined with eos, cut into blocks; labels = inputs (the model
//          shifts them).
//   BERT   masked LM (Devlin et al. 2019; HF DataCollatorForLanguageModeling): [CLS] block
//          [SEP]; 15% of the ordinary tokens are chosen, 80% of those become [MASK], 10% a
//          random token, 10% stay; labels are the original ids there, -100 elsewhere.
//   T5     span corruption (Raffel et al. 2020; HF's random_spans_noise_mask): 15% of a block's
//          tokens in spans of mean length 3; each span becomes one sentinel <extra_id_i> in the
//          input, and the target lists each sentinel followed by its span; both end with eos.
// The masking draws from a SplitMix64 seeded per batch (Dataset::collate's seed), so it is
// reproducible and replays exactly after a resume.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "app/data/shuffle.h"
#include "app/train/batching.h"
#include "app/train/dataset.h"
#include "models/tokenizers/tokenizer.h"

namespace app::train {

using TokenBlock = std::vector<int64_t>;

// Documents tokenised (no special tokens), each followed by `separator` when >= 0, concatenated
// and cut into blocks of block_length (the remainder is dropped). ValueError when the corpus
// is shorter than one block.
std::vector<TokenBlock> token_blocks(const models::Tokenizer& tok, const std::vector<std::string>& documents,
                                     size_t block_length, int64_t separator);

struct MlmOptions {
  double probability = 0.15;
  int64_t mask_id = 0, vocab_size = 0;
  std::vector<int64_t> special_ids;  // never chosen (CLS, SEP, PAD)
};
// Masks `ids` in place; returns the labels.
std::vector<int64_t> mask_tokens(std::vector<int64_t>& ids, const MlmOptions& options, data::SplitMix64& rng);

struct SpanOptions {
  double noise_density = 0.15;
  double mean_span_length = 3;
  std::vector<int64_t> sentinel_ids;  // <extra_id_0>, <extra_id_1>, ...
  int64_t eos_id = 0;
};
// The noise mask of a length-n sequence: alternating kept / noise runs, starting with kept.
std::vector<bool> random_spans_noise_mask(size_t n, const SpanOptions& options, data::SplitMix64& rng);
Features span_corrupt(const TokenBlock& tokens, const SpanOptions& options, data::SplitMix64& rng);

// Datasets over blocks for each objective.
Dataset causal_lm_dataset(std::shared_ptr<const std::vector<TokenBlock>> blocks, int64_t pad_id);
// Blocks get [CLS] ... [SEP] around them.
Dataset masked_lm_dataset(std::shared_ptr<const std::vector<TokenBlock>> blocks, int64_t cls_id, int64_t sep_id,
                          int64_t pad_id, MlmOptions options);
Dataset span_corruption_dataset(std::shared_ptr<const std::vector<TokenBlock>> blocks, int64_t pad_id,
                                SpanOptions options);

}  // namespace app::train
