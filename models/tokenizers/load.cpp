// load_tokenizer: which tokenizer a HF checkpoint folder holds, decided by its files.
// The slow tokenizers' own files win over tokenizer.json, so that outputs match HF's slow
// classes; tokenizer.json alone is read through its "model.type".
#include <filesystem>

#include "engine/core/error.h"
#include "models/tokenizers/bpe.h"
#include "models/tokenizers/hf_files.h"
#include "models/tokenizers/sentencepiece_tokenizer.h"
#include "models/tokenizers/tokenizer.h"
#include "models/tokenizers/wordpiece.h"

namespace models {
namespace {

// tokenizer.json's model type; older files leave it out, so infer it from the fields.
std::string model_type(const nlohmann::json& model) {
  if (model.contains("type")) return model["type"].get<std::string>();
  if (model.contains("merges")) return "BPE";
  if (model.contains("vocab") && model["vocab"].is_array()) return "Unigram";
  if (model.contains("continuing_subword_prefix")) return "WordPiece";
  return "";
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& folder) {
  namespace fs = std::filesystem;
  engine::check<engine::IOError>(fs::is_directory(folder), "[tokenizer] no such folder: ", folder.string());
  const hf::FolderConfig config = hf::FolderConfig::read(folder);
  if (fs::exists(folder / "vocab.txt")) return WordPieceTokenizer::from_folder(folder, config);
  if (fs::exists(folder / "vocab.json") && fs::exists(folder / "merges.txt"))
    return BpeTokenizer::from_folder(folder, config);
  if (fs::exists(folder / "spiece.model")) return SentencePieceTokenizer::from_folder(folder, config);
  if (config.tokenizer_json.contains("model")) {
    const std::string type = model_type(config.tokenizer_json["model"]);
    if (type == "WordPiece") return WordPieceTokenizer::from_folder(folder, config);
    if (type == "BPE") return BpeTokenizer::from_folder(folder, config);
    if (type == "Unigram") return SentencePieceTokenizer::from_folder(folder, config);
    engine::fail<engine::IOError>("[tokenizer] ", (folder / "tokenizer.json").string(),
                                  ": unsupported model type '", type, "' (WordPiece, BPE or Unigram)");
  }
  engine::fail<engine::IOError>(
      "[tokenizer] no tokenizer files in ", folder.string(),
      " (expected vocab.txt, vocab.json + merges.txt, spiece.model or tokenizer.json)");
}

}  // namespace models
