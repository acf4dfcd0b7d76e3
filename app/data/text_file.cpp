// Validated whole-file text reads (see text_file.h).
#include "app/data/text_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"

namespace app::data {

size_t find_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n;
    char32_t min_cp;
    if (b < 0x80) { ++i; continue; }
    if ((b >> 5) == 0x6) { n = 2; min_cp = 0x80; }
    else if ((b >> 4) == 0xE) { n = 3; min_cp = 0x800; }
    else if ((b >> 3) == 0x1E) { n = 4; min_cp = 0x10000; }
    else return i;
    if (i + n > s.size()) return i;
    char32_t cp = b & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 0x2) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min_cp || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += n;
  }
  return std::string_view::npos;
}

size_t line_at(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  engine::check<engine::IOError>(f.good(), path.string(), ": cannot open (missing or unreadable)");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  engine::check<engine::IOError>(!text.empty(), path.string(), ": empty file");
  const size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos)
    engine::fail<engine::IOError>(path.string(), ":", line_at(text, bad),
                                  ": wrong encoding: invalid UTF-8 at byte ", bad);
  return text;
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

}  // namespace app::data
