// UTF-8 aware whitespace/lowercase helpers and the 13a tokeniser (see text.h).
#include "app/metrics/text.h"

#include <cstdint>

namespace app::metrics {
namespace {

// Decodes the code point starting at s[i] and its byte length. Invalid bytes decode as
// themselves (length 1): metrics never reject text, the data readers validate encodings.
char32_t decode(std::string_view s, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 1;
  if (i + n > s.size()) n = 1;
  if (n == 1) {
    *len = 1;
    return b0;
  }
  char32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  *len = n;
  return cp;
}

void encode(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Exactly the code points for which Python's str.isspace() is true.
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

char32_t to_lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;  // Latin-1 capitals
  if (c >= 0x100 && c <= 0x17F) {                             // Latin Extended-A
    if (c == 0x130 || c == 0x138 || c == 0x149 || c == 0x17F) return c;  // İ ĸ ŉ ſ
    if (c == 0x178) return 0xFF;                                         // Ÿ -> ÿ
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper) return (c % 2 == 1) ? c + 1 : c;
    return (c % 2 == 0) ? c + 1 : c;
  }
  if ((c >= 0x391 && c <= 0x3AB && c != 0x3A2)) return c + 32;  // Greek capitals
  if (c >= 0x410 && c <= 0x42F) return c + 32;                  // Cyrillic А..Я
  if (c >= 0x400 && c <= 0x40F) return c + 80;                  // Cyrillic Ѐ..Џ
  return c;
}

// Python re.sub for a two-character pattern ([a][b] -> replacement), scanning left to right
// without overlap. Working on bytes is exact here: both classes' special members are ASCII
// and UTF-8 continuation bytes are never ASCII, so matches land on the same characters.
template <typename First, typename Second>
std::string sub_pairs(const std::string& s, First first, Second second, bool space_before_first) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      if (space_before_first) out += ' ';
      out += s[i];
      out += ' ';
      out += s[i + 1];
      if (!space_before_first) out += ' ';
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_period_comma(char c) { return c == '.' || c == ','; }

// The class [\{-\~\[-\` -\&\(-\+\:-\@\/] of mteval's punctuation rule.
bool is_13a_punct(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
         (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

}  // namespace

std::vector<std::string> split_whitespace(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    const char32_t cp = decode(text, i, &len);
    if (is_space(cp)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.append(text.substr(i, len));
    }
    i += len;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string_view rstrip_whitespace(std::string_view text) {
  size_t end = 0;  // one past the last non-space code point
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    if (!is_space(decode(text, i, &len))) end = i + len;
    i += len;
  }
  return text.substr(0, end);
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    const char32_t cp = decode(text, i, &len);
    if (len == 1 && cp >= 0x80)
      out += text[i];  // an invalid byte: keep it untouched
    else
      encode(to_lower(cp), out);
    i += len;
  }
  return out;
}

std::string tokenize_13a(std::string_view line) {
  std::string s(line);
  replace_all(s, "<skipped>", "");
  replace_all(s, "-\n", "");
  replace_all(s, "\n", " ");
  replace_all(s, "&quot;", "\"");
  replace_all(s, "&amp;", "&");
  replace_all(s, "&lt;", "<");
  replace_all(s, "&gt;", ">");
  std::string padded;
  padded.reserve(s.size() * 2 + 2);
  padded += ' ';
  for (char c : s) {
    if (is_13a_punct(c)) {
      padded += ' ';
      padded += c;
      padded += ' ';
    } else {
      padded += c;
    }
  }
  padded += ' ';
  auto not_digit = [](char c) { return !is_digit(c); };
  padded = sub_pairs(padded, not_digit, is_period_comma, false);  // ([^0-9])([\.,]) -> \1 \2_
  padded = sub_pairs(padded, is_period_comma, not_digit, true);   // ([\.,])([^0-9]) -> _\1 \2
  padded = sub_pairs(padded, is_digit, [](char c) { return c == '-'; }, false);  // ([0-9])(-)
  return join(split_whitespace(padded));
}

std::string join(const std::vector<std::string>& tokens) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ' ';
    out += tokens[i];
  }
  return out;
}

}  // namespace app::metrics
