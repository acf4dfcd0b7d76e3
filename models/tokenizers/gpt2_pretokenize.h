// GPT-2's pre-tokenisation and byte-to-unicode map.
// The pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// is implemented by hand (std::regex has no \p{L}), with Python `regex`'s ordered alternation.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace models {

// The pieces the GPT-2 pattern finds in `text` (UTF-8 in, UTF-8 pieces out).
std::vector<std::string> gpt2_pretokenize(std::string_view text);

// bytes_to_unicode(): byte -> printable character (UTF-8), so that BPE runs on visible text.
const std::array<std::string, 256>& byte_to_unicode();
// The inverse map, from a character to its byte; -1 for characters outside the map.
int unicode_to_byte(char32_t cp);

}  // namespace models
