// The merge loop shared by the byte-level BPE and WordPiece trainers: HF `tokenizers`'
// BpeTrainer (tokenizers/src/models/bpe/trainer.rs). Special tokens first, then the alphabet
// sorted by code point, then one new token per merge of the most frequent adjacent pair, until
// the vocabulary reaches vocab_size or no pair is frequent enough.
//
// Ties between equally frequent pairs go to the pair with the smallest (first id, second id),
// exactly as HF's heap orders them; ids follow the order tokens entered the vocabulary, so the
// result is deterministic. Pair counts are updated incrementally: a merge rewrites only the
// words known to contain the pair and adjusts the counts of the pairs around each occurrence.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace models::train {

// A pre-tokenised word and how often it occurs in the corpus.
struct WordCount {
  std::string word;  // UTF-8; for byte-level BPE already mapped to byte characters
  uint64_t count = 0;
};
using WordCounts = std::vector<WordCount>;

struct MergeOptions {
  std::size_t vocab_size = 30000;  // special tokens and the alphabet included
  uint64_t min_frequency = 0;      // stop when the best pair occurs fewer times
  std::vector<std::string> special_tokens;
  // Characters always in the alphabet, seen in the corpus or not (byte-level BPE: all 256).
  std::vector<std::string> initial_alphabet;
  // Keep at most this many characters, the most frequent (initial_alphabet ones first).
  std::optional<std::size_t> limit_alphabet;
  // Non-initial characters of a word get this prefix ("##" for WordPiece, "" for BPE).
  std::string continuing_prefix;
  // Called every few hundred merges and at the end: (merges done, current vocabulary size).
  std::function<void(std::size_t, std::size_t)> on_progress;
};

struct MergeResult {
  std::vector<std::string> vocab;                          // tokens by id
  std::vector<std::pair<std::string, std::string>> merges;  // in the order they were learnt
  std::size_t initial_vocab = 0;  // special tokens + alphabet (+ prefixed characters)
  std::size_t alphabet = 0;       // characters kept in the alphabet
  // Each word's tokens after the last merge, parallel to the input word counts.
  std::vector<std::vector<uint32_t>> words;
};

// Learns merges over `words`. Throws engine::ConfigError when vocab_size is smaller than the
// initial vocabulary (nothing could be learnt).
MergeResult learn_merges(const WordCounts& words, const MergeOptions& options);

}  // namespace models::train
