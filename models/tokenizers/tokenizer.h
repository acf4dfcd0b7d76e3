// models::Tokenizer: the interface shared by the WordPiece (BERT), byte-level BPE (GPT-2) and
// SentencePiece Unigram (T5) tokenizers, reproducing HF transformers' slow tokenizers:
// special-token splitting, encode / encode_pair, batch padding and truncation, decode.
// load_tokenizer(folder) picks the right one from a HF checkpoint folder's files.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace models {

// One encoded sequence; all four vectors have the same length.
struct Encoding {
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;  // token strings (T5's unknown pieces keep their surface text)
  std::vector<int64_t> token_type_ids;
  std::vector<int64_t> attention_mask;
  std::size_t size() const { return ids.size(); }
};

enum class Padding { kNone, kLongest, kMaxLength };
enum class Side { kRight, kLeft };

// Options of batch encoding (HF's tokenizer(texts, padding=..., truncation=..., max_length=...)).
struct EncodeOptions {
  bool add_special_tokens = true;
  Padding padding = Padding::kNone;
  bool truncation = false;                // pairs: longest_first
  std::optional<std::size_t> max_length;  // default: the tokenizer's model_max_length
  Side padding_side = Side::kRight;
  Side truncation_side = Side::kRight;
};

// Special tokens by role; an empty string means the tokenizer has none for that role.
struct SpecialTokens {
  std::string pad, eos, bos, unk, cls, sep, mask;
  std::vector<std::string> additional;  // e.g. T5's <extra_id_N>
  // Every distinct non-empty special token, roles first.
  std::vector<std::string> all() const;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "wordpiece", "bpe" or "sentencepiece".
  virtual std::string kind() const = 0;

  // Token strings of `text`, no special tokens added (HF's tokenizer.tokenize).
  std::vector<std::string> tokenize(std::string_view text) const;
  Encoding encode(std::string_view text, bool add_special_tokens = true) const;
  Encoding encode_pair(std::string_view a, std::string_view b, bool add_special_tokens = true) const;
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                     const EncodeOptions& options = {}) const;
  std::vector<Encoding> encode_pair_batch(const std::vector<std::string>& a,
                                          const std::vector<std::string>& b,
                                          const EncodeOptions& options = {}) const;
  std::string decode(std::span<const int64_t> ids, bool skip_special_tokens = false,
                     bool clean_up_tokenization_spaces = true) const;

  // Number of ids, added tokens included (HF's len(tokenizer)).
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  // Throws engine::IndexError for an id outside [0, vocab_size).
  virtual std::string id_to_token(int64_t id) const = 0;

  const SpecialTokens& special_tokens() const { return special_; }
  std::optional<int64_t> pad_id() const { return role_id(special_.pad); }
  std::optional<int64_t> eos_id() const { return role_id(special_.eos); }
  std::optional<int64_t> bos_id() const { return role_id(special_.bos); }
  std::optional<int64_t> unk_id() const { return role_id(special_.unk); }
  std::optional<int64_t> cls_id() const { return role_id(special_.cls); }
  std::optional<int64_t> sep_id() const { return role_id(special_.sep); }
  std::optional<int64_t> mask_id() const { return role_id(special_.mask); }
  bool is_special_id(int64_t id) const;
  std::optional<std::size_t> model_max_length() const { return model_max_length_; }
  // Number of special tokens encode() adds around one sequence or a pair.
  std::size_t num_special_tokens_to_add(bool pair) const;

  // Writes HF files (the vocabulary files + tokenizer_config.json + special_tokens_map.json)
  // that load_tokenizer and HF transformers read back.
  virtual void save(const std::filesystem::path& folder) const = 0;

 protected:
  // Tokens of a text chunk that holds no special token (HF's _tokenize).
  virtual std::vector<std::string> tokenize_chunk(std::string_view chunk) const = 0;
  // Id of a token, the unknown token's id when it is not in the vocabulary.
  int64_t convert_token(const std::string& token) const;
  // Adds the model's special tokens around one or two sequences (HF's
  // build_inputs_with_special_tokens + create_token_type_ids_from_sequences).
  // Default: no special tokens; type ids 0 for a, 1 for b.
  virtual Encoding add_special(const Encoding& a, const Encoding* b) const;
  // Text of consecutive ordinary tokens (HF's convert_tokens_to_string).
  virtual std::string tokens_to_string(const std::vector<std::string>& tokens) const = 0;
  // Tokens that decode() keeps apart from their neighbours (HF's legacy added tokens).
  virtual bool is_added_token(const std::string& /*token*/) const { return false; }
  // T5: whitespace on both sides of a special token found in text is dropped.
  bool strip_around_special_ = false;

  SpecialTokens special_;
  std::optional<std::size_t> model_max_length_;

 private:
  std::optional<int64_t> role_id(const std::string& token) const;
  // Ids + tokens of a text without special tokens added.
  Encoding pieces(std::string_view text) const;
  Encoding prepare(Encoding a, std::optional<Encoding> b, const EncodeOptions& options) const;
  void pad_batch(std::vector<Encoding>& batch, const EncodeOptions& options) const;
};

// Tokenizer of a HF checkpoint folder: vocab.txt (BERT WordPiece), vocab.json + merges.txt
// (GPT-2 BPE), spiece.model (T5), else tokenizer.json's model; tokenizer_config.json and
// special_tokens_map.json supply lower-casing, special tokens and model_max_length.
// Throws engine::IOError naming the folder when it is missing or holds no tokenizer files.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& folder);

// transformers' clean_up_tokenization: " ." -> ".", " n't" -> "n't", " ' " -> "'", ...
std::string clean_up_tokenization(std::string text);

}  // namespace models
