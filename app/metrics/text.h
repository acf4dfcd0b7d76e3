// Text helpers shared by the generation metrics: UTF-8 decoding, Python-compatible whitespace
// splitting and lowercasing, and the mteval-v13a / sacreBLEU "13a" tokeniser.
//
// The reference implementations are Python (sacreBLEU, e2e-metrics' pymteval, coco-caption), so
// "whitespace" and "lowercase" here mean what Python's str.split() and str.lower() mean, not
// what <cctype> means; otherwise a no-break space or an "É" would change scores.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace app::metrics {

// Python's str.split() with no argument: splits on any Unicode whitespace, drops empty pieces.
std::vector<std::string> split_whitespace(std::string_view text);

// Python's str.rstrip() with no argument (Unicode whitespace).
std::string_view rstrip_whitespace(std::string_view text);

// Python's str.lower() for the scripts our data uses: ASCII, Latin-1, Latin Extended-A, Greek
// and Cyrillic (one-to-one mappings only; other code points are kept as they are).
std::string lowercase(std::string_view text);

// sacreBLEU's Tokenizer13a (= mteval-v13a's NormalizeText without lowercasing): unescapes
// &quot; &amp; &lt; &gt;, splits off punctuation, splits '.' and ',' unless next to a digit,
// splits '-' after a digit. Returns the tokens joined by single spaces.
std::string tokenize_13a(std::string_view line);

// Joins tokens with single spaces.
std::string join(const std::vector<std::string>& tokens);

}  // namespace app::metrics
