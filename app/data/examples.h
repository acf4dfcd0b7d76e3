// Examples for training and evaluation, and the readers that map a file's columns (CSV, TSV,
// JSONL) onto them: which column is the text, the optional second text, the integer label and
// the generation target. SST-2 is `read_tsv_examples(path, {.text="sentence", .label="label",
// .num_labels=2})`; see read_sst2.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/data/table.h"

namespace app::data {

struct Example {
  std::string text;
  std::string text_pair;  // second sentence of a pair task, or ""
  int64_t label = -1;     // class index, or -1 when the task has no label
  std::string target;     // text to generate, or ""
};

// Column (or JSON key) names; an empty name means "not used". At least `text` must be set.
struct ColumnMap {
  std::string text;
  std::string text_pair;
  std::string label;
  std::string target;
  int64_t num_labels = 0;  // > 0: labels must lie in [0, num_labels)
};

std::vector<Example> examples_from_table(const Table& table, const ColumnMap& columns);

std::vector<Example> read_csv_examples(const std::filesystem::path& path, const ColumnMap& columns);
std::vector<Example> read_tsv_examples(const std::filesystem::path& path, const ColumnMap& columns);

// One JSON object per line; blank lines are skipped. Labels may be integers or integer strings.
std::vector<Example> read_jsonl_examples(const std::filesystem::path& path,
                                         const ColumnMap& columns);

// GLUE SST-2: `sentence<TAB>label`, labels 0/1.
std::vector<Example> read_sst2(const std::filesystem::path& path);

// Parses a label ("0", "1", ...); throws engine::IOError "<where>: label 'x' is not an integer"
// or "<where>: label 3 out of range [0, 2)". `where` is "<file>:<line>".
int64_t parse_label(const std::string& value, int64_t num_labels, const std::string& where);

}  // namespace app::data
