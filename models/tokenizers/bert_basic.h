// BERT's BasicTokenizer (transformers' tokenization_bert.py): text clean-up, CJK ideograph
// splitting, NFC, whitespace and punctuation splitting, lower-casing and accent stripping.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace models {

struct BertBasicOptions {
  bool lower_case = true;
  std::optional<bool> strip_accents;  // unset: strip when lower-casing
  bool tokenize_chinese_chars = true;
};

// Words of a text chunk that holds no special token, ready for WordPiece.
std::vector<std::string> bert_basic_tokenize(std::string_view text, const BertBasicOptions& options);

}  // namespace models
