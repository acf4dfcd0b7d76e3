// Byte-level BPE: loading (vocab.json + merges.txt or tokenizer.json), the merge loop of
// GPT2Tokenizer.bpe, decoding bytes back to text with errors="replace", and save().
#include "models/tokenizers/bpe.h"

#include <climits>
#include <sstream>

#include "engine/core/error.h"
#include "models/tokenizers/gpt2_pretokenize.h"
#include "models/tokenizers/hf_files.h"
#include "models/tokenizers/unicode/unicode.h"

namespace models {
namespace {

using Merges = std::vector<std::pair<std::string, std::string>>;

std::pair<std::string, std::string> split_merge(const std::string& line, const std::filesystem::path& file) {
  const std::size_t space = line.find(' ');
  engine::check<engine::IOError>(space != std::string::npos && space > 0 && space + 1 < line.size(),
                                 "[tokenizer] ", file.string(), ": malformed merge '", line, "'");
  return {line.substr(0, space), line.substr(space + 1)};
}

Merges read_merges_txt(const std::filesystem::path& file) {
  std::istringstream in(hf::read_file(file));
  Merges merges;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.starts_with("#version")) continue;
    merges.push_back(split_merge(line, file));
  }
  return merges;
}

// tokenizer.json writes merges as "a b" strings (older) or ["a", "b"] pairs (newer).
Merges merges_from_json(const nlohmann::json& merges, const std::filesystem::path& file) {
  Merges out;
  for (const auto& m : merges) {
    if (m.is_string())
      out.push_back(split_merge(m.get<std::string>(), file));
    else
      out.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
  }
  return out;
}

// Splits UTF-8 text into its characters.
std::vector<std::string> characters(const std::string& word) {
  std::vector<std::string> out;
  for (char32_t c : unicode::to_u32(word)) out.push_back(unicode::to_utf8(std::u32string(1, c)));
  return out;
}

}  // namespace

BpeTokenizer::BpeTokenizer(std::vector<std::string> vocab, Merges merges, Options options)
    : vocab_(std::move(vocab)), merges_(std::move(merges)) {
  ids_.reserve(vocab_.size());
  for (std::size_t i = 0; i < vocab_.size(); ++i) ids_[vocab_[i]] = static_cast<int64_t>(i);
  ranks_.reserve(merges_.size());
  for (std::size_t r = 0; r < merges_.size(); ++r)
    ranks_.emplace(merges_[r].first + " " + merges_[r].second, static_cast<int>(r));
  special_ = std::move(options.special);
  model_max_length_ = options.model_max_length;
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_folder(const std::filesystem::path& folder,
                                                        const hf::FolderConfig& config) {
  std::vector<std::string> vocab;
  Merges merges;
  if (std::filesystem::exists(folder / "vocab.json") && std::filesystem::exists(folder / "merges.txt")) {
    vocab = hf::vocab_by_id(hf::read_json(folder / "vocab.json"), folder / "vocab.json");
    merges = read_merges_txt(folder / "merges.txt");
  } else {
    const nlohmann::json& model = config.tokenizer_json.at("model");
    vocab = hf::vocab_by_id(model.at("vocab"), folder / "tokenizer.json");
    merges = merges_from_json(model.at("merges"), folder / "tokenizer.json");
  }
  Options options;
  config.apply_special_tokens(options.special);
  options.model_max_length = config.model_max_length();
  return std::make_unique<BpeTokenizer>(std::move(vocab), std::move(merges), std::move(options));
}

std::optional<int64_t> BpeTokenizer::token_to_id(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::string BpeTokenizer::id_to_token(int64_t id) const {
  engine::check<engine::IndexError>(id >= 0 && id < vocab_size(), "[bpe] id ", id,
                                    " is outside the vocabulary [0, ", vocab_size(), ")");
  return vocab_[id];
}

// Repeatedly merges every occurrence of the lowest-ranked adjacent pair.
std::vector<std::string> BpeTokenizer::bpe(const std::string& word) const {
  {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) return it->second;
  }
  std::vector<std::string> parts = characters(word);
  while (parts.size() > 1) {
    int best = INT_MAX;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const auto it = ranks_.find(parts[i] + " " + parts[i + 1]);
      if (it != ranks_.end() && it->second < best) best = it->second, at = i;
    }
    if (best == INT_MAX) break;
    const std::string first = parts[at], second = parts[at + 1];
    std::vector<std::string> merged;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i + 1 < parts.size() && parts[i] == first && parts[i + 1] == second) {
        merged.push_back(first + second);
        ++i;
      } else {
        merged.push_back(parts[i]);
      }
    }
    parts = std::move(merged);
  }
  std::lock_guard lock(cache_mutex_);
  cache_.emplace(word, parts);
  return parts;
}

std::vector<std::string> BpeTokenizer::tokenize_chunk(std::string_view chunk) const {
  const auto& to_char = byte_to_unicode();
  std::vector<std::string> tokens;
  for (const std::string& piece : gpt2_pretokenize(chunk)) {
    std::string mapped;
    for (unsigned char b : piece) mapped += to_char[b];
    for (std::string& t : bpe(mapped)) tokens.push_back(std::move(t));
  }
  return tokens;
}

// Characters back to bytes, then UTF-8 with errors="replace".
std::string BpeTokenizer::tokens_to_string(const std::vector<std::string>& tokens) const {
  std::string bytes;
  for (const std::string& t : tokens) {
    for (char32_t c : unicode::to_u32(t)) {
      const int b = unicode_to_byte(c);
      if (b >= 0)
        bytes.push_back(static_cast<char>(b));
      else
        unicode::append_utf8(bytes, c);  // not a byte character (e.g. an added token's text)
    }
  }
  return unicode::decode_utf8_replace(bytes);
}

void BpeTokenizer::save(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  nlohmann::json vocab = nlohmann::json::object();  // keys sorted, like HF's sort_keys=True
  for (std::size_t i = 0; i < vocab_.size(); ++i) vocab[vocab_[i]] = i;
  hf::write_json(folder / "vocab.json", vocab);
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : merges_) merges += a + " " + b + "\n";
  hf::write_file(folder / "merges.txt", merges);
  const nlohmann::json config = {
      {"add_prefix_space", false}, {"add_bos_token", false}, {"errors", "replace"}};
  hf::write_configs(folder, "GPT2Tokenizer", config, special_, model_max_length_);
}

}  // namespace models
