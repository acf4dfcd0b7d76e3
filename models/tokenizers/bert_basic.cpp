// BERT's BasicTokenizer, step by step as transformers 4.33 runs it (the order matters for the
// golden tests): lower-case each character, clean, space out CJK, NFC, split on whitespace,
// per word lower-case + strip accents, split on punctuation.
#include "models/tokenizers/bert_basic.h"

#include "models/tokenizers/unicode/unicode.h"

namespace models {
namespace {

bool is_bert_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || unicode::category(c) == "Zs";
}

bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  return unicode::category(c)[0] == 'C';
}

// All non-letter/number ASCII counts as punctuation, like "^$`" (categories S*), too.
bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
    return true;
  return unicode::category(c)[0] == 'P';
}

// The CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana).
bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// _clean_text + _tokenize_chinese_chars.
std::u32string clean(std::u32string_view text, bool space_out_cjk) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
    if (is_bert_whitespace(c)) {
      out.push_back(U' ');
    } else if (space_out_cjk && is_cjk_ideograph(c)) {
      out += U' ';
      out += c;
      out += U' ';
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string strip_accents(std::u32string_view word) {
  std::u32string out;
  for (char32_t c : unicode::nfd(word))
    if (unicode::category(c) != "Mn") out.push_back(c);
  return out;
}

// _run_split_on_punc: every punctuation character becomes a word of its own.
void split_on_punctuation(const std::u32string& word, std::vector<std::string>& out) {
  std::u32string current;
  for (char32_t c : word) {
    if (is_bert_punctuation(c)) {
      if (!current.empty()) out.push_back(unicode::to_utf8(current));
      current.clear();
      out.push_back(unicode::to_utf8(std::u32string(1, c)));
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) out.push_back(unicode::to_utf8(current));
}

}  // namespace

std::vector<std::string> bert_basic_tokenize(std::string_view text, const BertBasicOptions& options) {
  std::u32string u = unicode::to_u32(text);
  // PreTrainedTokenizer.tokenize lower-cases the text one character at a time (regex "(.+?)")
  // before the basic tokenizer runs, so capital sigma never becomes final sigma.
  if (options.lower_case) u = unicode::to_lower(u, /*final_sigma=*/false);
  u = unicode::nfc(clean(u, options.tokenize_chinese_chars));
  const bool strip = options.strip_accents.value_or(options.lower_case);
  std::vector<std::string> words;
  std::u32string word;
  auto finish_word = [&] {
    if (word.empty()) return;
    if (options.lower_case) word = unicode::to_lower(word);
    if (strip) word = strip_accents(word);
    split_on_punctuation(word, words);
    word.clear();
  };
  for (char32_t c : u) {
    if (unicode::is_py_space(c))
      finish_word();
    else
      word.push_back(c);
  }
  finish_word();
  return words;
}

}  // namespace models
