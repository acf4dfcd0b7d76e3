// Protobuf wire format for sentencepiece's ModelProto (field numbers of
// sentencepiece_model.proto): pieces = 1 {piece = 1, score = 2, type = 3},
// trainer_spec = 2 {model_type = 3, vocab_size = 4, unk/bos/eos/pad_id = 40..43},
// normalizer_spec = 3 {name = 1, precompiled_charsmap = 2, add_dummy_prefix = 3,
// remove_extra_whitespaces = 4, escape_whitespaces = 5}.
#include "models/tokenizers/unigram_proto.h"

#include <cstring>
#include <unordered_map>

#include "engine/core/error.h"

namespace models {
namespace {

enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, int field, int wire_type) { put_varint(out, (field << 3) | wire_type); }

// int32 fields encode negative values as 10-byte two's complement varints.
void put_int(std::string& out, int field, int64_t v) {
  put_tag(out, field, 0);
  put_varint(out, static_cast<uint64_t>(v));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_float(std::string& out, int field, float v) {
  put_tag(out, field, 5);
  char le[4];
  std::memcpy(le, &v, 4);  // x86-64 is little-endian, as the wire format
  out.append(le, 4);
}

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string::npos) continue;  // '=' padding, line breaks
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

// The Precompiled normalizer, alone or inside a Sequence; null if none.
const nlohmann::json* find_typed(const nlohmann::json& node, const std::string& type, const char* list_key) {
  if (!node.is_object()) return nullptr;
  if (node.value("type", "") == type) return &node;
  if (node.contains(list_key))
    for (const auto& child : node[list_key])
      if (const nlohmann::json* hit = find_typed(child, type, list_key)) return hit;
  return nullptr;
}

}  // namespace

UnigramProto unigram_proto_from_tokenizer_json(const nlohmann::json& tj, const std::filesystem::path& file) {
  const nlohmann::json& model = tj.at("model");
  engine::check<engine::IOError>(model.value("type", "") == "Unigram", "[tokenizer] ", file.string(),
                                 ": model type is '", model.value("type", ""), "', expected Unigram");
  const nlohmann::json& vocab = model.at("vocab");
  const int64_t unk_id = model.value("unk_id", int64_t{0});
  std::unordered_map<int64_t, bool> added;  // id -> special
  for (const auto& t : tj.value("added_tokens", nlohmann::json::array()))
    added[t.at("id").get<int64_t>()] = t.value("special", false);

  // Added special tokens at the end of the vocabulary are not model pieces (T5Tokenizer adds them).
  int64_t n = static_cast<int64_t>(vocab.size());
  while (n > 0 && n - 1 != unk_id && added.count(n - 1) && added[n - 1]) --n;

  UnigramProto result;
  result.extra_ids = vocab.size() - n;
  std::string& out = result.serialized;
  for (int64_t id = 0; id < n; ++id) {
    std::string piece;
    put_bytes(piece, 1, vocab[id].at(0).get<std::string>());
    put_float(piece, 2, vocab[id].at(1).get<float>());
    put_int(piece, 3, id == unk_id ? kUnknown : (added.count(id) && added[id]) ? kControl : kNormal);
    put_bytes(out, 1, piece);
  }

  auto find_id = [&](const char* token) -> int64_t {
    for (int64_t id = 0; id < n; ++id)
      if (vocab[id].at(0).get<std::string>() == token) return id;
    return -1;
  };
  std::string trainer;
  put_int(trainer, 3, 1);  // UNIGRAM
  put_int(trainer, 4, n);
  put_int(trainer, 40, unk_id);
  put_int(trainer, 41, find_id("<s>"));
  put_int(trainer, 42, find_id("</s>"));
  put_int(trainer, 43, find_id("<pad>"));
  put_bytes(out, 2, trainer);

  static const nlohmann::json kNull;
  // References into tj (not value() copies): find_typed returns pointers into them.
  const nlohmann::json& normalizer_json = tj.contains("normalizer") ? tj["normalizer"] : kNull;
  const nlohmann::json& pre_tokenizer = tj.contains("pre_tokenizer") ? tj["pre_tokenizer"] : kNull;
  const nlohmann::json* precompiled = find_typed(normalizer_json, "Precompiled", "normalizers");
  const nlohmann::json* metaspace = find_typed(pre_tokenizer, "Metaspace", "pretokenizers");
  const bool whitespace_split = find_typed(pre_tokenizer, "WhitespaceSplit", "pretokenizers");
  bool dummy_prefix = true;
  if (metaspace) {
    dummy_prefix = metaspace->value("add_prefix_space", true);
    if (metaspace->contains("prepend_scheme")) dummy_prefix = (*metaspace)["prepend_scheme"] != "never";
  }
  std::string normalizer;
  put_bytes(normalizer, 1, precompiled ? "nmt_nfkc" : "identity");
  if (precompiled) put_bytes(normalizer, 2, base64_decode(precompiled->value("precompiled_charsmap", "")));
  put_int(normalizer, 3, dummy_prefix);
  put_int(normalizer, 4, whitespace_split);  // WhitespaceSplit == remove_extra_whitespaces
  put_int(normalizer, 5, 1);
  put_bytes(out, 3, normalizer);
  return result;
}

}  // namespace models
