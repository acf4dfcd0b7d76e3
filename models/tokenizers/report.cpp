// encoding_report: one input's tokens, ids (with and without special tokens) and decoding.
#include "models/tokenizers/report.h"

namespace models {

nlohmann::ordered_json encoding_report(const Tokenizer& tokenizer, const std::string& text,
                                       const std::optional<std::string>& pair) {
  const Encoding with = pair ? tokenizer.encode_pair(text, *pair) : tokenizer.encode(text);
  const Encoding without = pair ? tokenizer.encode_pair(text, *pair, false) : tokenizer.encode(text, false);
  nlohmann::ordered_json out = {{"text", text}};
  if (pair) out["text_pair"] = *pair;
  out["tokens"] = with.tokens;
  out["ids"] = with.ids;
  out["ids_no_special"] = without.ids;
  if (pair) out["token_type_ids"] = with.token_type_ids;
  out["decoded"] = tokenizer.decode(with.ids, /*skip_special_tokens=*/true);
  return out;
}

}  // namespace models
