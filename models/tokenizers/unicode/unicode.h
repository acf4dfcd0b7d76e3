// Unicode without ICU: UTF-8 conversion, general categories, NFD/NFC, Python's str.lower()
// and whitespace predicates, all as Python's `unicodedata` defines them (tables.cpp says
// which Unicode version). The tokenizers reproduce Python code, so Python is the reference.
#pragma once
#include <string>
#include <string_view>

namespace models::unicode {

// UTF-8 <-> code points. Invalid input bytes become U+FFFD.
std::u32string to_u32(std::string_view utf8);
std::string to_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t cp);

// Python's bytes.decode("utf-8", errors="replace"): one U+FFFD per maximal invalid subpart.
std::string decode_utf8_replace(std::string_view bytes);

// Two-letter general category ("Lu", "Mn", "Zs", "Cn", ...).
std::string_view category(char32_t cp);
inline bool is_letter(char32_t cp) { return category(cp)[0] == 'L'; }
inline bool is_number(char32_t cp) { return category(cp)[0] == 'N'; }

int combining_class(char32_t cp);

// Python's str.isspace().
bool is_py_space(char32_t cp);
// The White_Space property: what `\s` matches in Python's `regex` module.
bool is_white_space(char32_t cp);

std::u32string nfd(std::u32string_view text);
std::u32string nfc(std::u32string_view text);
// Python's str.lower(): full case mapping, including the final-sigma rule unless
// `final_sigma` is false (lower-casing one character at a time, as BERT's tokenize() does).
std::u32string to_lower(std::u32string_view text, bool final_sigma = true);
// Python's str.strip() / lstrip() / rstrip() on UTF-8 text.
std::string py_strip(std::string_view text, bool left = true, bool right = true);

// Unicode version of the tables, e.g. "14.0.0".
const char* version();

}  // namespace models::unicode
