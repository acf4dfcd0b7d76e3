// GPT-2's byte-level BPE tokenizer (HF GPT2Tokenizer): pre-tokenise, map bytes to printable
// characters, apply merges by rank (with a cache); decode maps characters back to bytes.
#pragma once
#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "models/tokenizers/tokenizer.h"

namespace models {

namespace hf {
struct FolderConfig;
}

class BpeTokenizer : public Tokenizer {
 public:
  struct Options {
    SpecialTokens special{"", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>", "", "", "", {}};
    std::optional<std::size_t> model_max_length;
  };

  // `vocab` lists the tokens by id; `merges` in rank order.
  BpeTokenizer(std::vector<std::string> vocab, std::vector<std::pair<std::string, std::string>> merges,
               Options options);

  // From vocab.json + merges.txt, or tokenizer.json's BPE model when they are absent.
  static std::unique_ptr<BpeTokenizer> from_folder(const std::filesystem::path& folder,
                                                   const hf::FolderConfig& config);

  std::string kind() const override { return "bpe"; }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int64_t id) const override;
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  // vocab.json + merges.txt + tokenizer_config.json + special_tokens_map.json.
  void save(const std::filesystem::path& folder) const override;

 protected:
  std::vector<std::string> tokenize_chunk(std::string_view chunk) const override;
  std::string tokens_to_string(const std::vector<std::string>& tokens) const override;

 private:
  // BPE of one pre-token already mapped to byte characters.
  std::vector<std::string> bpe(const std::string& word) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::unordered_map<std::string, int> ranks_;  // "first second" -> rank
  mutable std::unordered_map<std::string, std::vector<std::string>> cache_;
  mutable std::mutex cache_mutex_;
};

}  // namespace models
