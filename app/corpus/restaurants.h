// The repository's own data-to-text task, in the style of E2E: restaurant records (name,
// eatType, food, priceRange, customer rating, area, familyFriendly, near) and several varied
// English realisations of each (different templates, synonyms and attribute orders), all
// generated from a seed. Records are written as E2E meaning representations
// ("name[Golden Lantern], eatType[pub], ..."), so app::data::linearize_e2e and the E2E
// metrics apply unchanged.
//
// Every venue name (the `name` and `near` values) is two capitalised words ("Golden Lantern"),
// and every realisation mentions the record's name: the pretraining corpus
// (app/corpus/grammar.h) never writes two capitalised words in a row, which is what keeps the
// task's references out of it (see has_capitalised_pair).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "app/data/data_to_text.h"
#include "app/data/shuffle.h"

namespace app::corpus {

// One record: E2E attribute keys and values in canonical order; absent attributes are omitted.
struct Record {
  std::vector<std::pair<std::string, std::string>> fields;
  const std::string& get(const std::string& key) const;  // "" when absent
  std::string mr() const;                                 // "name[X], eatType[Y], ..."
};

// A random record: always a name and an eatType, each other attribute with probability ~0.6.
Record random_record(data::SplitMix64& rng);

// One realisation of a record, chosen by `rng` among the templates, synonyms and orders.
std::string realise(const Record& record, data::SplitMix64& rng);

// The words that make up venue names and attribute values (the vocabulary the pretraining
// corpus shares with the task).
const std::vector<std::string>& venue_adjectives();
const std::vector<std::string>& venue_nouns();
const std::vector<std::string>& foods();
const std::vector<std::string>& areas();

struct DataToTextSplits {
  std::vector<data::DataToTextExample> train, validation, test;
};

struct DataToTextOptions {
  size_t records = 1500;           // distinct records (meaning representations)
  size_t min_references = 3, max_references = 6;  // per record
  double validation_fraction = 0.1, test_fraction = 0.1;
  uint64_t seed = 0;
};

// Distinct records with their references, split by record (every reference of one record on
// the same side), so test references are never seen in training.
DataToTextSplits generate_data_to_text(const DataToTextOptions& options);

// Writes an E2E-style csv (`mr,ref`, one row per reference) that app::data::read_e2e reads back.
void write_e2e_csv(const std::vector<data::DataToTextExample>& examples, const std::string& path);

}  // namespace app::corpus
