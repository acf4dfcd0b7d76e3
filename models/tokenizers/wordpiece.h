// BERT's WordPiece tokenizer (HF BertTokenizer): basic tokenization, then greedy
// longest-match-first word pieces with a "##" continuation prefix; [CLS] A [SEP] (B [SEP]).
#pragma once
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/tokenizers/bert_basic.h"
#include "models/tokenizers/tokenizer.h"

namespace models {

namespace hf {
struct FolderConfig;
}

class WordPieceTokenizer : public Tokenizer {
 public:
  struct Options {
    BertBasicOptions basic;
    std::string continuing_prefix = "##";
    std::size_t max_input_chars_per_word = 100;
    SpecialTokens special{"[PAD]", "", "", "[UNK]", "[CLS]", "[SEP]", "[MASK]", {}};
    std::optional<std::size_t> model_max_length;
  };

  // `vocab` lists the tokens by id.
  WordPieceTokenizer(std::vector<std::string> vocab, Options options);

  // From vocab.txt, or tokenizer.json's WordPiece model when vocab.txt is absent.
  static std::unique_ptr<WordPieceTokenizer> from_folder(const std::filesystem::path& folder,
                                                         const hf::FolderConfig& config);

  std::string kind() const override { return "wordpiece"; }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int64_t id) const override;
  // vocab.txt + tokenizer_config.json + special_tokens_map.json.
  void save(const std::filesystem::path& folder) const override;

 protected:
  std::vector<std::string> tokenize_chunk(std::string_view chunk) const override;
  Encoding add_special(const Encoding& a, const Encoding* b) const override;
  std::string tokens_to_string(const std::vector<std::string>& tokens) const override;

 private:
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  Options options_;
};

}  // namespace models
