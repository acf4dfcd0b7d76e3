// HF tokenizer folder files: JSON in and out, special tokens by role, model_max_length.
#include "models/tokenizers/hf_files.h"

#include <fstream>
#include <sstream>

#include "engine/core/error.h"

namespace models::hf {
namespace {

const char* const kRoles[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                              "pad_token", "cls_token", "mask_token"};

std::string* role_field(SpecialTokens& s, std::string_view role) {
  if (role == "bos_token") return &s.bos;
  if (role == "eos_token") return &s.eos;
  if (role == "unk_token") return &s.unk;
  if (role == "sep_token") return &s.sep;
  if (role == "pad_token") return &s.pad;
  if (role == "cls_token") return &s.cls;
  return &s.mask;
}

}  // namespace

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  engine::check<engine::IOError>(in.good(), "[tokenizer] cannot open ", file.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary);
  engine::check<engine::IOError>(out.good(), "[tokenizer] cannot write ", file.string());
  out << bytes;
  engine::check<engine::IOError>(out.good(), "[tokenizer] failed writing ", file.string());
}

nlohmann::json read_json(const std::filesystem::path& file) {
  const std::string text = read_file(file);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>("[tokenizer] malformed JSON in ", file.string(), ": ", e.what());
  }
}

nlohmann::json read_json_if_exists(const std::filesystem::path& file) {
  return std::filesystem::exists(file) ? read_json(file) : nlohmann::json::object();
}

void write_json(const std::filesystem::path& file, const nlohmann::json& value) {
  write_file(file, value.dump(2, ' ', false) + "\n");
}

std::vector<std::string> vocab_by_id(const nlohmann::json& vocab, const std::filesystem::path& file) {
  std::vector<std::string> out(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    const auto i = id.get<int64_t>();
    engine::check<engine::IOError>(i >= 0 && i < static_cast<int64_t>(out.size()), "[tokenizer] ",
                                   file.string(), ": id ", i, " of '", token, "' is out of range");
    out[i] = token;
  }
  return out;
}

std::string token_content(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content")) return value["content"].get<std::string>();
  return "";  // null: the role has no token
}

FolderConfig FolderConfig::read(const std::filesystem::path& folder) {
  FolderConfig c;
  c.tokenizer_config = read_json_if_exists(folder / "tokenizer_config.json");
  c.special_tokens_map = read_json_if_exists(folder / "special_tokens_map.json");
  c.tokenizer_json = read_json_if_exists(folder / "tokenizer.json");
  return c;
}

bool FolderConfig::flag(const std::string& key, bool fallback) const {
  const auto it = tokenizer_config.find(key);
  return (it != tokenizer_config.end() && it->is_boolean()) ? it->get<bool>() : fallback;
}

// special_tokens_map.json wins over tokenizer_config.json, as in HF's from_pretrained.
void FolderConfig::apply_special_tokens(SpecialTokens& special) const {
  for (const nlohmann::json* source : {&tokenizer_config, &special_tokens_map}) {
    for (const char* role : kRoles)
      if (source->contains(role)) *role_field(special, role) = token_content((*source)[role]);
    if (source->contains("additional_special_tokens")) {
      special.additional.clear();
      for (const auto& t : (*source)["additional_special_tokens"])
        special.additional.push_back(token_content(t));
    }
  }
}

std::optional<std::size_t> FolderConfig::model_max_length() const {
  const auto it = tokenizer_config.find("model_max_length");
  if (it == tokenizer_config.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (v <= 0 || v > 1e12) return std::nullopt;  // HF's VERY_LARGE_INTEGER = "no limit"
  return static_cast<std::size_t>(v);
}

void write_configs(const std::filesystem::path& folder, const std::string& tokenizer_class,
                   nlohmann::json config, const SpecialTokens& special,
                   std::optional<std::size_t> model_max_length) {
  nlohmann::json map = nlohmann::json::object();
  SpecialTokens copy = special;
  for (const char* role : kRoles) {
    const std::string& token = *role_field(copy, role);
    if (!token.empty()) map[role] = token;
  }
  if (!special.additional.empty()) map["additional_special_tokens"] = special.additional;
  config["tokenizer_class"] = tokenizer_class;
  if (model_max_length) config["model_max_length"] = *model_max_length;
  config.update(map);
  write_json(folder / "tokenizer_config.json", config);
  write_json(folder / "special_tokens_map.json", map);
}

}  // namespace models::hf
