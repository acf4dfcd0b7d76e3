// Category, combining class, normalisation (NFD/NFC) and lower-casing over the generated
// tables. Hangul syllables are (de)composed arithmetically (Unicode 3.12).
#include "models/tokenizers/unicode/unicode.h"

#include <algorithm>

#include "models/tokenizers/unicode/tables.h"

namespace models::unicode {
namespace {

using namespace tables;

constexpr const char* kCategoryNames[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl",
                                          "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc",
                                          "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};

// Value of the run containing cp in a table of (start << shift) | value.
uint32_t run_value(const uint32_t* runs, std::size_t n, char32_t cp, int shift) {
  const uint32_t key = (static_cast<uint32_t>(cp) << shift) | ((1u << shift) - 1);
  const uint32_t* it = std::upper_bound(runs, runs + n, key);
  return *(it - 1) & ((1u << shift) - 1);
}

const MapEntry* find_entry(const MapEntry* entries, std::size_t n, char32_t cp) {
  const MapEntry* it =
      std::lower_bound(entries, entries + n, cp, [](const MapEntry& e, char32_t c) { return e.cp < c; });
  return (it != entries + n && it->cp == cp) ? it : nullptr;
}

// Hangul constants (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
              kSCount = kLCount * kNCount;

void decompose_one(char32_t cp, std::u32string& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int s = static_cast<int>(cp - kSBase);
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (const MapEntry* e = find_entry(kDecompEntries, kDecompEntries_size, cp)) {
    out.append(kDecompData + e->offset, e->length);
  } else {
    out.push_back(cp);
  }
}

// Canonical ordering: stable sort of each run of non-starters by combining class.
void reorder(std::u32string& s) {
  for (std::size_t i = 0; i < s.size();) {
    if (combining_class(s[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && combining_class(s[j]) != 0) ++j;
    std::stable_sort(s.begin() + i, s.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
}

// Composite of a + b, or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const Composition* end = kCompositions + kCompositions_size;
  const Composition* it = std::lower_bound(
      kCompositions, end, std::pair{a, b}, [](const Composition& c, std::pair<char32_t, char32_t> k) {
        return c.first < k.first || (c.first == k.first && c.second < k.second);
      });
  return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

bool in_runs(const uint32_t* runs, std::size_t n, char32_t cp) { return run_value(runs, n, cp, 1); }

// Python's final-sigma context: a cased letter before (skipping case-ignorables) and none after.
bool is_final_sigma(std::u32string_view s, std::size_t i) {
  auto cased = [](char32_t c) { return in_runs(kCasedRuns, kCasedRuns_size, c); };
  auto ignorable = [](char32_t c) { return in_runs(kCaseIgnorableRuns, kCaseIgnorableRuns_size, c); };
  std::size_t j = i;
  while (j > 0 && ignorable(s[j - 1])) --j;
  if (j == 0 || !cased(s[j - 1])) return false;
  std::size_t k = i + 1;
  while (k < s.size() && ignorable(s[k])) ++k;
  return k == s.size() || !cased(s[k]);
}

}  // namespace

std::string_view category(char32_t cp) {
  if (cp >= 0x110000) return "Cn";
  return kCategoryNames[run_value(kCategoryRuns, kCategoryRuns_size, cp, 5)];
}

int combining_class(char32_t cp) {
  if (cp < 0x300 || cp >= 0x110000) return 0;  // fast path: nothing below U+0300 combines
  return static_cast<int>(run_value(kCombiningRuns, kCombiningRuns_size, cp, 8));
}

bool is_py_space(char32_t cp) { return std::binary_search(kPySpace, kPySpace + kPySpace_size, cp); }

bool is_white_space(char32_t cp) { return is_py_space(cp) && !(cp >= 0x1C && cp <= 0x1F); }

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) decompose_one(cp, out);
  reorder(out);
  return out;
}

// The canonical composition algorithm: each character combines with the last starter unless
// a character of the same or higher class stands between them (blocked).
std::u32string nfc(std::u32string_view text) {
  std::u32string s = nfd(text);
  if (s.empty()) return s;
  std::u32string out;
  out.reserve(s.size());
  std::size_t starter = std::u32string::npos;
  int last_class = -1;
  for (char32_t cp : s) {
    const int cls = combining_class(cp);
    // last_class == 0 means the previous character is the starter itself (adjacent).
    if (starter != std::u32string::npos && (last_class < cls || last_class == 0)) {
      if (char32_t c = compose_pair(out[starter], cp)) {
        out[starter] = c;
        continue;
      }
    }
    if (cls == 0) starter = out.size();
    last_class = cls;
    out.push_back(cp);
  }
  return out;
}

std::u32string to_lower(std::u32string_view text, bool final_sigma) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t cp = text[i];
    if (cp == 0x03A3) {
      out.push_back(final_sigma && is_final_sigma(text, i) ? 0x03C2 : 0x03C3);
    } else if (const MapEntry* e = find_entry(kLowerEntries, kLowerEntries_size, cp)) {
      out.append(kLowerData + e->offset, e->length);
    } else {
      out.push_back(cp);
    }
  }
  return out;
}

std::string py_strip(std::string_view text, bool left, bool right) {
  const std::u32string u = to_u32(text);
  std::size_t begin = 0, end = u.size();
  while (left && begin < end && is_py_space(u[begin])) ++begin;
  while (right && end > begin && is_py_space(u[end - 1])) --end;
  return to_utf8(std::u32string_view(u).substr(begin, end - begin));
}

const char* version() { return kUnicodeVersion; }

}  // namespace models::unicode
