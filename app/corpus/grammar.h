// The repository's pretraining corpus: English-like documents about places, people, weather,
// travel, food and shops, drawn from a small probabilistic grammar with a seed. It shares its
// vocabulary with the data-to-text task (app/corpus/restaurants.h: the words of venue names,
// foods, areas, eat types, prices, ratings, children, family...) but not its sentences: the
// grammar has none of the task's realisation templates.
//
// Disjointness from the task's references, by construction and checked: every reference
// contains its venue's name, two capitalised words in a row ("Golden Lantern"); the grammar
// writes capitalised words only at the start of a sentence and for single first names, and
// generate_documents() drops (and redraws) any sentence where has_capitalised_pair() is true.
// So no reference, nor any venue name, can occur in the corpus (tests check both).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace app::corpus {

struct PretrainCorpusOptions {
  size_t documents = 36000;                       // one document per line (~1.9M GPT-2 tokens)
  size_t min_sentences = 3, max_sentences = 7;    // per document
  uint64_t seed = 0;
};

// Documents (one paragraph each, no newline inside), deterministic from the seed.
std::vector<std::string> generate_documents(const PretrainCorpusOptions& options);

// The documents joined by "\n", with a final "\n" (the form `peft pretrain --corpus` reads).
std::string join_documents(const std::vector<std::string>& documents);

// True when the text holds a capitalised word followed by one space and a capital letter
// ("Golden Lantern"), the shape of every venue name.
bool has_capitalised_pair(std::string_view text);

}  // namespace app::corpus
