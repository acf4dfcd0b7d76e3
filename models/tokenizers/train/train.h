// Training new tokenizers on a text corpus, so that a small model need not carry GPT-2's or
// BERT's vocabulary: byte-level BPE (GPT-2 style, HF ByteLevelBPETokenizer.train) and
// WordPiece (BERT style, HF BertWordPieceTokenizer.train). Both return the ordinary tokenizer
// classes, whose save() writes HF's files; save_atomically() writes them all or nothing.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/tokenizers/bpe.h"
#include "models/tokenizers/wordpiece.h"

namespace models::train {

struct TrainOptions {
  std::size_t vocab_size = 30000;  // special tokens and the alphabet included
  uint64_t min_frequency = 2;      // a pair seen fewer times is never merged (HF's default 2)
  bool lowercase = false;          // WordPiece: lower-case and strip accents (BPE: ConfigError)
  std::size_t limit_alphabet = 1000;  // WordPiece: keep the most frequent characters only
  // Appended after the type's own special tokens (<|endoftext|>; [PAD] [UNK] [CLS] [SEP] [MASK]).
  std::vector<std::string> additional_special_tokens;
  std::function<void(const std::string&)> log;  // progress messages, if set
};

struct TrainStats {
  std::size_t vocab_size = 0, merges = 0, alphabet = 0, special_tokens = 0;
  uint64_t words = 0, distinct_words = 0;
  uint64_t tokens = 0;  // the corpus' words encoded with the trained tokenizer
  double seconds = 0;
  double tokens_per_word() const { return words ? double(tokens) / double(words) : 0.0; }
};

template <typename T>
struct Trained {
  std::unique_ptr<T> tokenizer;
  TrainStats stats;
};

// Byte-level BPE over GPT-2's pre-tokenisation; all 256 byte characters are in the vocabulary,
// so any text encodes and decodes back exactly. Special tokens take ids 0.., then the bytes.
// Each text is split into lines. Throws engine::IOError for a corpus without words and
// engine::ConfigError when vocab_size < special tokens + 256.
Trained<BpeTokenizer> train_bpe(std::span<const std::string> texts, const TrainOptions& options);

// WordPiece over BERT's basic tokenisation: [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4, the
// alphabet, "##" continuation characters, then BPE-style merges (HF's WordPieceTrainer).
Trained<WordPieceTokenizer> train_wordpiece(std::span<const std::string> texts, const TrainOptions& options);

// tokenizer.save(folder), all files or none: a new folder appears whole (written beside it,
// then renamed); in an existing folder each file is replaced atomically.
void save_atomically(const Tokenizer& tokenizer, const std::filesystem::path& folder);

}  // namespace models::train
