// A JSON summary of how a tokenizer encodes one input: what `peft tokenize --json` prints.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "models/tokenizers/tokenizer.h"

namespace models {

// {"text", ["text_pair"], "tokens", "ids", "ids_no_special", ["token_type_ids"], "decoded"}:
// tokens and ids with the special tokens encode() adds, ids_no_special without them,
// token_type_ids for pairs, decoded = decode(ids, skip_special_tokens=true).
nlohmann::ordered_json encoding_report(const Tokenizer& tokenizer, const std::string& text,
                                       const std::optional<std::string>& pair = std::nullopt);

}  // namespace models
