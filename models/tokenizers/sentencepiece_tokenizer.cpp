// T5Tokenizer over libsentencepiece. Pieces come from SentencePiece's Encode (so unknown spans
// keep their surface text, as HF shows them); ids from PieceToId, <extra_id_N> counting down
// from the top of the vocabulary.
#include "models/tokenizers/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <charconv>

#include "engine/core/error.h"
#include "models/tokenizers/hf_files.h"
#include "models/tokenizers/unicode/unicode.h"
#include "models/tokenizers/unigram_proto.h"

namespace models {
namespace {

// N of "<extra_id_N>", or -1.
int64_t extra_id_number(std::string_view token) {
  constexpr std::string_view kPrefix = "<extra_id_";
  if (!token.starts_with(kPrefix) || !token.ends_with(">")) return -1;
  const std::string_view digits = token.substr(kPrefix.size(), token.size() - kPrefix.size() - 1);
  int64_t n = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty()) ? n : -1;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& serialized_model, Options options)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()), extra_ids_(options.extra_ids) {
  const auto status = sp_->LoadFromSerializedProto(serialized_model);
  engine::check<engine::IOError>(status.ok(), "[sentencepiece] cannot load the model: ", status.ToString());
  special_ = std::move(options.special);
  if (special_.additional.empty())  // T5Tokenizer(extra_ids=N) names the sentinels itself
    for (std::size_t i = 0; i < extra_ids_; ++i)
      special_.additional.push_back("<extra_id_" + std::to_string(i) + ">");
  model_max_length_ = options.model_max_length;
  strip_around_special_ = true;
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_folder(
    const std::filesystem::path& folder, const hf::FolderConfig& config) {
  Options options;
  std::string model;
  if (std::filesystem::exists(folder / "spiece.model")) {
    model = hf::read_file(folder / "spiece.model");
  } else {
    UnigramProto proto = unigram_proto_from_tokenizer_json(config.tokenizer_json, folder / "tokenizer.json");
    model = std::move(proto.serialized);
    options.extra_ids = proto.extra_ids;
  }
  if (config.tokenizer_config.contains("extra_ids"))
    options.extra_ids = config.tokenizer_config["extra_ids"].get<std::size_t>();
  config.apply_special_tokens(options.special);
  options.model_max_length = config.model_max_length();
  return std::make_unique<SentencePieceTokenizer>(model, std::move(options));
}

int64_t SentencePieceTokenizer::piece_count() const { return sp_->GetPieceSize(); }

int64_t SentencePieceTokenizer::vocab_size() const {
  return piece_count() + static_cast<int64_t>(extra_ids_);
}

std::optional<int64_t> SentencePieceTokenizer::token_to_id(std::string_view token) const {
  const int64_t n = extra_id_number(token);
  if (n >= 0) {
    if (n >= static_cast<int64_t>(extra_ids_)) return std::nullopt;
    return vocab_size() - 1 - n;
  }
  const int id = sp_->PieceToId(token);
  // PieceToId answers unk_id for unknown pieces: only "<unk>" itself really is that id.
  if (id == sp_->unk_id() && token != sp_->IdToPiece(id)) return std::nullopt;
  return id;
}

std::string SentencePieceTokenizer::id_to_token(int64_t id) const {
  engine::check<engine::IndexError>(id >= 0 && id < vocab_size(), "[sentencepiece] id ", id,
                                    " is outside the vocabulary [0, ", vocab_size(), ")");
  if (id < piece_count()) return sp_->IdToPiece(static_cast<int>(id));
  return "<extra_id_" + std::to_string(vocab_size() - 1 - id) + ">";
}

std::vector<std::string> SentencePieceTokenizer::tokenize_chunk(std::string_view chunk) const {
  std::vector<std::string> pieces;
  const auto status = sp_->Encode(chunk, &pieces);
  engine::check<engine::ValueError>(status.ok(), "[sentencepiece] encode failed: ", status.ToString());
  return pieces;
}

// A </s> after each sequence unless it already ends with one (T5's _add_eos_if_not_present).
Encoding SentencePieceTokenizer::add_special(const Encoding& a, const Encoding* b) const {
  const int64_t eos = convert_token(special_.eos);
  Encoding out;
  for (const Encoding* e : {&a, b}) {
    if (!e) continue;
    out.ids.insert(out.ids.end(), e->ids.begin(), e->ids.end());
    out.tokens.insert(out.tokens.end(), e->tokens.begin(), e->tokens.end());
    if (e->ids.empty() || e->ids.back() != eos) {
      out.ids.push_back(eos);
      out.tokens.push_back(special_.eos);
    }
  }
  out.token_type_ids.assign(out.ids.size(), 0);  // T5 uses no token types
  return out;
}

std::string SentencePieceTokenizer::decode_pieces(const std::vector<std::string>& pieces) const {
  std::string text;
  const auto status = sp_->Decode(pieces, &text);
  engine::check<engine::ValueError>(status.ok(), "[sentencepiece] decode failed: ", status.ToString());
  return text;
}

// T5Tokenizer.convert_tokens_to_string: special tokens are not decoded by SentencePiece but
// appended literally, with a space before the first of a run.
std::string SentencePieceTokenizer::tokens_to_string(const std::vector<std::string>& tokens) const {
  const std::vector<std::string> specials = special_.all();
  std::string out;
  std::vector<std::string> current;
  bool prev_special = false;
  for (const std::string& token : tokens) {
    if (std::find(specials.begin(), specials.end(), token) != specials.end()) {
      if (!prev_special) out += " ";
      out += decode_pieces(current) + token;
      current.clear();
      prev_special = true;
    } else {
      current.push_back(token);
      prev_special = false;
    }
  }
  out += decode_pieces(current);
  return unicode::py_strip(out);
}

void SentencePieceTokenizer::save(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  hf::write_file(folder / "spiece.model", sp_->serialized_model_proto());
  const nlohmann::json config = {{"extra_ids", extra_ids_}, {"legacy", true}};
  hf::write_configs(folder, "T5Tokenizer", config, special_, model_max_length_);
}

}  // namespace models
