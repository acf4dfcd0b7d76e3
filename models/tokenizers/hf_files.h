// Reading and writing the JSON files of a HF tokenizer folder (tokenizer_config.json,
// special_tokens_map.json, tokenizer.json), shared by the three tokenizers' loaders and save().
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "models/tokenizers/tokenizer.h"

namespace models::hf {

// Parsed JSON of a file; throws engine::IOError naming the file when unreadable or malformed.
nlohmann::json read_json(const std::filesystem::path& file);
// The file's JSON, or an empty object when the file does not exist.
nlohmann::json read_json_if_exists(const std::filesystem::path& file);
void write_json(const std::filesystem::path& file, const nlohmann::json& value);
// Whole file as bytes; throws engine::IOError.
std::string read_file(const std::filesystem::path& file);
void write_file(const std::filesystem::path& file, const std::string& bytes);

// The configuration files of a folder, read once.
struct FolderConfig {
  nlohmann::json tokenizer_config;    // tokenizer_config.json or {}
  nlohmann::json special_tokens_map;  // special_tokens_map.json or {}
  nlohmann::json tokenizer_json;      // tokenizer.json or {} (only read when present)

  static FolderConfig read(const std::filesystem::path& folder);
  // A boolean setting of tokenizer_config.json, else `fallback`.
  bool flag(const std::string& key, bool fallback) const;
  // Overrides the defaults in `special` with the special tokens the files name.
  void apply_special_tokens(SpecialTokens& special) const;
  // model_max_length of tokenizer_config.json (HF's "very large" placeholder means none).
  std::optional<std::size_t> model_max_length() const;
};

// A {"token": id} object (vocab.json, tokenizer.json's vocab) as the list of tokens by id.
std::vector<std::string> vocab_by_id(const nlohmann::json& vocab, const std::filesystem::path& file);

// A token entry as HF writes it: a plain string or an AddedToken object {"content": ...}.
std::string token_content(const nlohmann::json& value);

// Writes tokenizer_config.json (`config` + tokenizer_class, special tokens, model_max_length)
// and special_tokens_map.json.
void write_configs(const std::filesystem::path& folder, const std::string& tokenizer_class,
                   nlohmann::json config, const SpecialTokens& special,
                   std::optional<std::size_t> model_max_length);

}  // namespace models::hf
