// `peft tokenize`: how a checkpoint folder's tokenizer encodes texts — tokens, ids with and
// without special tokens, token_type_ids for pairs, and the decoded text.
//   peft tokenize --tokenizer DIR (--text TEXT | --file texts.json) [--pair TEXT2] [--json]
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/command.h"
#include "engine/core/error.h"
#include "models/tokenizers/report.h"
#include "models/tokenizers/tokenizer.h"

namespace app {
namespace {

struct TokenizeArgs {
  std::string tokenizer, text, file, pair;
  bool has_text = false, has_pair = false, json = false;  // --text "" is a valid input
};

// texts.json: a JSON list of strings.
std::vector<std::string> read_texts(const std::string& file) {
  std::ifstream in(file);
  engine::check<engine::IOError>(in.good(), "[tokenize] cannot open ", file);
  nlohmann::json list;
  try {
    list = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>("[tokenize] malformed JSON in ", file, ": ", e.what());
  }
  engine::check<engine::IOError>(list.is_array(), "[tokenize] ", file, " must hold a JSON list of strings");
  std::vector<std::string> texts;
  for (const auto& t : list) {
    engine::check<engine::IOError>(t.is_string(), "[tokenize] ", file, ": not a string: ", t.dump());
    texts.push_back(t.get<std::string>());
  }
  return texts;
}

void print_human(const nlohmann::ordered_json& reports) {
  for (const auto& r : reports) {
    for (const auto& [key, value] : r.items()) std::cout << key << ": " << value.dump() << "\n";
    std::cout << "\n";
  }
}

void run(const TokenizeArgs& args) {
  engine::check<engine::ValueError>(args.has_text || !args.file.empty(), "[tokenize] give --text or --file");
  const std::unique_ptr<models::Tokenizer> tokenizer = models::load_tokenizer(args.tokenizer);
  const std::vector<std::string> texts = args.has_text ? std::vector{args.text} : read_texts(args.file);
  const std::optional<std::string> pair = args.has_pair ? std::optional(args.pair) : std::nullopt;
  nlohmann::ordered_json reports = nlohmann::ordered_json::array();
  for (const std::string& text : texts) reports.push_back(models::encoding_report(*tokenizer, text, pair));
  if (args.json) {
    std::cout << reports.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    print_human(reports);
  }
}

const Command kTokenize("tokenize", "Show how a checkpoint's tokenizer encodes texts", [](CLI::App& sub) {
  auto args = std::make_shared<TokenizeArgs>();
  sub.add_option("--tokenizer", args->tokenizer, "HF checkpoint or tokenizer folder")->required();
  CLI::Option* text = sub.add_option("--text", args->text, "the text to encode");
  CLI::Option* file = sub.add_option("--file", args->file, "a JSON list of texts to encode");
  text->excludes(file);
  CLI::Option* pair = sub.add_option("--pair", args->pair, "a second text, encoded as a pair with each text");
  sub.add_flag("--json", args->json, "print JSON");
  sub.callback([args, text, pair] {
    args->has_text = text->count() > 0;
    args->has_pair = pair->count() > 0;
    run(*args);
  });
});

}  // namespace
}  // namespace app
