// WordPiece: vocabulary loading (vocab.txt or tokenizer.json), the greedy longest-match
// algorithm of transformers' WordpieceTokenizer, BERT's special-token template and save().
#include "models/tokenizers/wordpiece.h"

#include <sstream>

#include "engine/core/error.h"
#include "models/tokenizers/hf_files.h"
#include "models/tokenizers/unicode/unicode.h"

namespace models {
namespace {

std::vector<std::string> read_vocab_txt(const std::filesystem::path& file) {
  std::istringstream in(hf::read_file(file));
  std::vector<std::string> vocab;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(std::move(line));
  }
  return vocab;
}

// The BertNormalizer settings of tokenizer.json, as BasicTokenizer options.
void read_normalizer(const nlohmann::json& normalizer, BertBasicOptions& basic) {
  if (!normalizer.is_object() || normalizer.value("type", "") != "BertNormalizer") return;
  basic.lower_case = normalizer.value("lowercase", true);
  basic.tokenize_chinese_chars = normalizer.value("handle_chinese_chars", true);
  if (normalizer.contains("strip_accents") && normalizer["strip_accents"].is_boolean())
    basic.strip_accents = normalizer["strip_accents"].get<bool>();
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, Options options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  ids_.reserve(vocab_.size());
  for (std::size_t i = 0; i < vocab_.size(); ++i) ids_[vocab_[i]] = static_cast<int64_t>(i);
  special_ = options_.special;
  model_max_length_ = options_.model_max_length;
}

std::unique_ptr<WordPieceTokenizer> WordPieceTokenizer::from_folder(const std::filesystem::path& folder,
                                                                    const hf::FolderConfig& config) {
  Options options;
  std::vector<std::string> vocab;
  if (std::filesystem::exists(folder / "vocab.txt")) {
    vocab = read_vocab_txt(folder / "vocab.txt");
  } else {
    const nlohmann::json& model = config.tokenizer_json.at("model");
    vocab = hf::vocab_by_id(model.at("vocab"), folder / "tokenizer.json");
    options.continuing_prefix = model.value("continuing_subword_prefix", "##");
    options.max_input_chars_per_word = model.value("max_input_chars_per_word", std::size_t{100});
    options.special.unk = model.value("unk_token", "[UNK]");
    read_normalizer(config.tokenizer_json.value("normalizer", nlohmann::json()), options.basic);
  }
  BertBasicOptions& basic = options.basic;
  basic.lower_case = config.flag("do_lower_case", basic.lower_case);
  basic.tokenize_chinese_chars = config.flag("tokenize_chinese_chars", basic.tokenize_chinese_chars);
  if (config.tokenizer_config.contains("strip_accents") &&
      config.tokenizer_config["strip_accents"].is_boolean())
    basic.strip_accents = config.tokenizer_config["strip_accents"].get<bool>();
  config.apply_special_tokens(options.special);
  options.model_max_length = config.model_max_length();
  return std::make_unique<WordPieceTokenizer>(std::move(vocab), std::move(options));
}

std::optional<int64_t> WordPieceTokenizer::token_to_id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::string WordPieceTokenizer::id_to_token(int64_t id) const {
  engine::check<engine::IndexError>(id >= 0 && id < vocab_size(), "[wordpiece] id ", id,
                                    " is outside the vocabulary [0, ", vocab_size(), ")");
  return vocab_[id];
}

// Greedy longest-match-first; a word with no full segmentation (or too long) is [UNK].
void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<std::string>& out) const {
  const std::u32string chars = unicode::to_u32(word);
  if (chars.size() > options_.max_input_chars_per_word) {
    out.push_back(special_.unk);
    return;
  }
  std::vector<std::string> pieces;
  for (std::size_t start = 0; start < chars.size();) {
    std::size_t end = chars.size();
    std::string match;
    for (; end > start; --end) {
      std::string candidate = unicode::to_utf8(std::u32string_view(chars).substr(start, end - start));
      if (start > 0) candidate = options_.continuing_prefix + candidate;
      if (ids_.count(candidate)) {
        match = std::move(candidate);
        break;
      }
    }
    if (end == start) {
      out.push_back(special_.unk);
      return;
    }
    pieces.push_back(std::move(match));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPieceTokenizer::tokenize_chunk(std::string_view chunk) const {
  std::vector<std::string> out;
  for (const std::string& word : bert_basic_tokenize(chunk, options_.basic)) wordpiece(word, out);
  return out;
}

Encoding WordPieceTokenizer::add_special(const Encoding& a, const Encoding* b) const {
  Encoding out;
  auto push = [&](int64_t id, const std::string& token, int64_t type) {
    out.ids.push_back(id);
    out.tokens.push_back(token);
    out.token_type_ids.push_back(type);
  };
  auto push_all = [&](const Encoding& e, int64_t type) {
    for (std::size_t i = 0; i < e.size(); ++i) push(e.ids[i], e.tokens[i], type);
  };
  const int64_t cls = convert_token(special_.cls), sep = convert_token(special_.sep);
  push(cls, special_.cls, 0);
  push_all(a, 0);
  push(sep, special_.sep, 0);
  if (b) {
    push_all(*b, 1);
    push(sep, special_.sep, 1);
  }
  return out;
}

// " ".join(tokens).replace(" ##", "").strip()
std::string WordPieceTokenizer::tokens_to_string(const std::vector<std::string>& tokens) const {
  std::string text;
  const std::string glue = " " + options_.continuing_prefix;
  for (std::size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
  for (std::size_t pos = 0; (pos = text.find(glue, pos)) != std::string::npos;) text.erase(pos, glue.size());
  return unicode::py_strip(text);
}

void WordPieceTokenizer::save(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  std::string text;
  for (const std::string& token : vocab_) text += token + "\n";
  hf::write_file(folder / "vocab.txt", text);
  nlohmann::json config = {{"do_lower_case", options_.basic.lower_case},
                           {"tokenize_chinese_chars", options_.basic.tokenize_chinese_chars},
                           {"strip_accents", nullptr}};
  if (options_.basic.strip_accents) config["strip_accents"] = *options_.basic.strip_accents;
  hf::write_configs(folder, "BertTokenizer", config, special_, model_max_length_);
}

}  // namespace models
