// A SentencePiece Unigram model from tokenizer.json, as a serialized sentencepiece ModelProto.
// The Debian libsentencepiece ships no .proto header, so the few fields that matter are
// written in protobuf's wire format by hand and loaded with LoadFromSerializedProto.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace models {

struct UnigramProto {
  std::string serialized;     // the ModelProto bytes
  std::size_t extra_ids = 0;  // trailing added tokens kept out of the model (T5's <extra_id_N>)
};

// From tokenizer.json's Unigram model: its pieces and scores (control / unknown types from the
// added tokens), the Precompiled normalizer's charsmap and the Metaspace settings.
// `file` names tokenizer.json in errors (engine::IOError).
UnigramProto unigram_proto_from_tokenizer_json(const nlohmann::json& tokenizer_json,
                                               const std::filesystem::path& file);

}  // namespace models
