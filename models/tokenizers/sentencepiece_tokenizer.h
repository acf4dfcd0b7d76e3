// T5's SentencePiece Unigram tokenizer (HF T5Tokenizer, legacy=True) through libsentencepiece:
// spiece.model, or a model built from tokenizer.json; <extra_id_N> sentinels above the
// SentencePiece vocabulary; a trailing </s>.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/tokenizers/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace models {

namespace hf {
struct FolderConfig;
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  struct Options {
    std::size_t extra_ids = 100;
    SpecialTokens special{"<pad>", "</s>", "", "<unk>", "", "", "", {}};  // + <extra_id_N>
    std::optional<std::size_t> model_max_length;
  };

  // `serialized_model`: the bytes of a sentencepiece ModelProto (an spiece.model file).
  SentencePieceTokenizer(const std::string& serialized_model, Options options);
  ~SentencePieceTokenizer() override;

  static std::unique_ptr<SentencePieceTokenizer> from_folder(const std::filesystem::path& folder,
                                                             const hf::FolderConfig& config);

  std::string kind() const override { return "sentencepiece"; }
  int64_t vocab_size() const override;
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int64_t id) const override;
  // spiece.model + tokenizer_config.json + special_tokens_map.json.
  void save(const std::filesystem::path& folder) const override;

 protected:
  std::vector<std::string> tokenize_chunk(std::string_view chunk) const override;
  Encoding add_special(const Encoding& a, const Encoding* b) const override;
  std::string tokens_to_string(const std::vector<std::string>& tokens) const override;

 private:
  int64_t piece_count() const;
  std::string decode_pieces(const std::vector<std::string>& pieces) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::size_t extra_ids_;
};

}  // namespace models
