// CSV / TSV parsing (see table.h).
#include "app/data/table.h"

#include "app/data/text_file.h"
#include "engine/core/error.h"

namespace app::data {
namespace {

// Parses one record starting at text[i]; advances i past its line ending. `line` is the
// current line number and is advanced over newlines inside quoted fields.
std::vector<std::string> parse_record(std::string_view text, size_t& i, size_t& line,
                                      const std::string& source, const TableOptions& opt) {
  std::vector<std::string> fields(1);
  const size_t start_line = line;
  bool at_field_start = true;
  while (i < text.size()) {
    const char c = text[i];
    if (opt.quoting && c == '"' && at_field_start) {
      ++i;  // a quoted field: read until the closing quote; "" is a literal quote
      for (;;) {
        if (i >= text.size())
          engine::fail<engine::IOError>(source, ":", start_line,
                                        ": malformed line: unterminated quoted field");
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            fields.back() += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        fields.back() += text[i++];
      }
      const bool ends = i >= text.size() || text[i] == opt.delimiter || text[i] == '\n' ||
                        (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n');
      if (!ends)
        engine::fail<engine::IOError>(source, ":", line,
                                      ": malformed line: text after a closing quote");
      at_field_start = false;
      continue;
    }
    if (c == opt.delimiter) {
      fields.emplace_back();
      at_field_start = true;
      ++i;
      continue;
    }
    if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      i += c == '\r' ? 2 : 1;
      ++line;
      return fields;
    }
    if (opt.quoting && c == '"')
      engine::fail<engine::IOError>(source, ":", line,
                                    ": malformed line: quote inside an unquoted field");
    fields.back() += c;
    at_field_start = false;
    ++i;
  }
  return fields;
}

bool blank(std::string_view text, size_t i) {
  return text[i] == '\n' || (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n');
}

}  // namespace

Table parse_table(std::string_view text, const std::string& source, const TableOptions& opt) {
  Table t;
  t.source = source;
  size_t i = 0, line = 1;
  bool first = true;
  while (i < text.size()) {
    if (blank(text, i)) {  // blank lines separate nothing: skip them
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    const size_t row_line = line;
    auto fields = parse_record(text, i, line, source, opt);
    if (first && opt.header) {
      t.header = std::move(fields);
      first = false;
      continue;
    }
    if (first) {
      for (size_t k = 0; k < fields.size(); ++k) t.header.push_back(std::to_string(k));
      first = false;
    }
    if (fields.size() != t.header.size())
      engine::fail<engine::IOError>(source, ":", row_line, ": malformed line: expected ",
                                    t.header.size(), " fields, found ", fields.size());
    t.rows.push_back(std::move(fields));
    t.row_lines.push_back(row_line);
  }
  return t;
}

Table read_table(const std::filesystem::path& path, const TableOptions& options) {
  return parse_table(read_text_file(path), path.string(), options);
}

size_t Table::column(std::string_view name) const {
  for (size_t k = 0; k < header.size(); ++k)
    if (header[k] == name) return k;
  std::string have;
  for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
  engine::fail<engine::IOError>(source, ": missing column '", name, "' (columns: ", have, ")");
}

std::string Table::where(size_t row) const {
  return source + ":" + std::to_string(row_lines.at(row));
}

}  // namespace app::data
