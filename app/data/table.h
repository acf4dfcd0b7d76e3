// Delimited tables: CSV with RFC 4180 quoting (quoted fields may hold commas, quotes written as
// "", and newlines) and TSV (GLUE style: no quoting, a field is everything between tabs).
// Every error names the file and the line: wrong field count, unterminated quote, stray quote,
// missing column.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace app::data {

struct TableOptions {
  char delimiter = ',';
  bool quoting = true;  // RFC 4180 quotes (CSV); off for TSV
  bool header = true;   // first row names the columns; else columns are named "0", "1", ...
};

struct Table {
  std::string source;                         // file name, for error messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> row_lines;              // 1-based line on which each row starts

  // Index of a named column; throws engine::IOError "<file>: missing column 'x' (has: ...)".
  size_t column(std::string_view name) const;
  // "<file>:<line>" of a row, for error messages.
  std::string where(size_t row) const;
};

// Parses text already read (source names it in errors).
Table parse_table(std::string_view text, const std::string& source, const TableOptions& options);

Table read_table(const std::filesystem::path& path, const TableOptions& options);
inline Table read_csv(const std::filesystem::path& path) { return read_table(path, {}); }
inline Table read_tsv(const std::filesystem::path& path) {
  return read_table(path, TableOptions{'\t', false, true});
}

}  // namespace app::data
