// Hand-written GPT-2 pre-tokeniser. At each position the alternatives are tried in the
// pattern's order and the first that matches wins (regex alternation is ordered, not longest).
#include "models/tokenizers/gpt2_pretokenize.h"

#include "models/tokenizers/unicode/unicode.h"

namespace models {
namespace {

using unicode::is_letter;
using unicode::is_number;
// `\s` of Python's `regex` module is the White_Space property.
bool is_space(char32_t c) { return unicode::is_white_space(c); }
bool is_other(char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

// 's 't 're 've 'm 'll 'd (lower case only, as the pattern is case-sensitive): length or 0.
std::size_t match_contraction(std::u32string_view s, std::size_t i) {
  if (s[i] != U'\'' || i + 1 >= s.size()) return 0;
  const char32_t a = s[i + 1];
  if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
  if (i + 2 < s.size()) {
    const char32_t b = s[i + 2];
    if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  }
  return 0;
}

// ` ?X+` for a character class X: length or 0.
template <typename Pred>
std::size_t match_class_run(std::u32string_view s, std::size_t i, Pred in_class) {
  std::size_t k = i + (s[i] == U' ' ? 1 : 0);
  if (k >= s.size() || !in_class(s[k])) return 0;
  while (k < s.size() && in_class(s[k])) ++k;
  return k - i;
}

// `\s+(?!\S)|\s+`: a whitespace run, less its last character when a non-space follows it
// (that character then leads the next piece, e.g. " world"), unless the run is one character.
std::size_t match_whitespace(std::u32string_view s, std::size_t i) {
  std::size_t j = i;
  while (j < s.size() && is_space(s[j])) ++j;
  if (j == i) return 0;
  if (j == s.size() || j - i == 1) return j - i;
  return j - 1 - i;
}

std::size_t match_at(std::u32string_view s, std::size_t i) {
  if (std::size_t n = match_contraction(s, i)) return n;
  if (std::size_t n = match_class_run(s, i, is_letter)) return n;
  if (std::size_t n = match_class_run(s, i, is_number)) return n;
  if (std::size_t n = match_class_run(s, i, is_other)) return n;
  return match_whitespace(s, i);
}

}  // namespace

std::vector<std::string> gpt2_pretokenize(std::string_view text) {
  const std::u32string s = unicode::to_u32(text);
  std::vector<std::string> pieces;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = match_at(s, i);
    if (n == 0) n = 1;  // unreachable: every character is a letter, number, space or other
    pieces.push_back(unicode::to_utf8(std::u32string_view(s).substr(i, n)));
    i += n;
  }
  return pieces;
}

// Printable Latin-1 bytes map to themselves; the rest to U+0100 onwards, in byte order.
const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = unicode::to_utf8(std::u32string(1, printable ? static_cast<char32_t>(b) : next++));
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(char32_t cp) {
  constexpr char32_t kEnd = 0x144;  // the map's characters all lie below U+0144
  static const std::array<int, kEnd> inverse = [] {
    std::array<int, kEnd> t;
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[unicode::to_u32(byte_to_unicode()[b])[0]] = b;
    return t;
  }();
  return cp < kEnd ? inverse[cp] : -1;
}

}  // namespace models
