// Column-mapped example readers (see examples.h).
#include "app/data/examples.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "app/data/text_file.h"
#include "engine/core/error.h"

namespace app::data {
namespace {

void check_map(const ColumnMap& columns, const std::string& source) {
  engine::check<engine::ConfigError>(!columns.text.empty(), source,
                                     ": no text column chosen in the column mapping");
}

// Column index for a mapped name, or npos when the mapping leaves it unused.
size_t optional_column(const Table& t, const std::string& name) {
  return name.empty() ? std::string::npos : t.column(name);
}

}  // namespace

int64_t parse_label(const std::string& value, int64_t num_labels, const std::string& where) {
  int64_t label = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, label);
  if (ec != std::errc() || ptr != end || value.empty())
    engine::fail<engine::IOError>(where, ": label '", value, "' is not an integer");
  if (num_labels > 0 && (label < 0 || label >= num_labels))
    engine::fail<engine::IOError>(where, ": label ", label, " out of range [0, ", num_labels,
                                  ")");
  return label;
}

std::vector<Example> examples_from_table(const Table& t, const ColumnMap& columns) {
  check_map(columns, t.source);
  const size_t text = t.column(columns.text);
  const size_t pair = optional_column(t, columns.text_pair);
  const size_t label = optional_column(t, columns.label);
  const size_t target = optional_column(t, columns.target);
  std::vector<Example> out;
  out.reserve(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    Example e;
    e.text = row[text];
    if (pair != std::string::npos) e.text_pair = row[pair];
    if (label != std::string::npos) e.label = parse_label(row[label], columns.num_labels, t.where(r));
    if (target != std::string::npos) e.target = row[target];
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Example> read_csv_examples(const std::filesystem::path& path, const ColumnMap& c) {
  return examples_from_table(read_csv(path), c);
}

std::vector<Example> read_tsv_examples(const std::filesystem::path& path, const ColumnMap& c) {
  return examples_from_table(read_tsv(path), c);
}

std::vector<Example> read_sst2(const std::filesystem::path& path) {
  return read_tsv_examples(path, ColumnMap{"sentence", "", "label", "", 2});
}

namespace {

std::string json_string(const nlohmann::json& obj, const std::string& key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) engine::fail<engine::IOError>(where, ": missing key '", key, "'");
  if (!it->is_string()) engine::fail<engine::IOError>(where, ": key '", key, "' is not a string");
  return it->get<std::string>();
}

Example example_from_json(const nlohmann::json& obj, const ColumnMap& c, const std::string& where) {
  if (!obj.is_object()) engine::fail<engine::IOError>(where, ": malformed line: not a JSON object");
  Example e;
  e.text = json_string(obj, c.text, where);
  if (!c.text_pair.empty()) e.text_pair = json_string(obj, c.text_pair, where);
  if (!c.target.empty()) e.target = json_string(obj, c.target, where);
  if (!c.label.empty()) {
    auto it = obj.find(c.label);
    if (it == obj.end()) engine::fail<engine::IOError>(where, ": missing key '", c.label, "'");
    const std::string v = it->is_string() ? it->get<std::string>() : it->dump();
    e.label = parse_label(v, c.num_labels, where);
  }
  return e;
}

}  // namespace

std::vector<Example> read_jsonl_examples(const std::filesystem::path& path, const ColumnMap& c) {
  check_map(c, path.string());
  const auto lines = read_lines(path);
  std::vector<Example> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(i + 1);
    nlohmann::json obj;
    try {
      obj = nlohmann::json::parse(lines[i]);
    } catch (const nlohmann::json::parse_error& e) {
      engine::fail<engine::IOError>(where, ": malformed line: invalid JSON (", e.what(), ")");
    }
    out.push_back(example_from_json(obj, c, where));
  }
  engine::check<engine::IOError>(!out.empty(), path.string(), ": empty file (no JSON lines)");
  return out;
}

}  // namespace app::data
