// The training corpus: text files read whole, split into lines that keep their line endings
// (as HF `tokenizers` feeds files to its trainers), and pre-tokenised into counted words.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/tokenizers/train/merge_trainer.h"

namespace models::train {

// Contents of each file; throws engine::IOError naming a file that cannot be read.
std::vector<std::string> read_corpus(const std::vector<std::filesystem::path>& files);

// Lines of `text`, each with its "\n" (or "\r\n"); a last line without one is kept too.
std::vector<std::string_view> split_lines(std::string_view text);

// Splits one line into words (a pre-tokeniser).
using WordSplitter = std::function<std::vector<std::string>(std::string_view line)>;

// How often each word occurs over every line of `texts`, sorted by word (so that training
// does not depend on hash order). Lines are split in parallel.
WordCounts count_words(std::span<const std::string> texts, const WordSplitter& split);

// Total occurrences (the corpus' number of words).
uint64_t total_count(const WordCounts& words);

}  // namespace models::train
