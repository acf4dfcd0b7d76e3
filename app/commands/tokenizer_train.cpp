// `peft tokenizer train`: train a byte-level BPE (GPT-2 style) or WordPiece (BERT style)
// tokenizer on text files and save it as HF's files, so small models need not carry a 50k
// vocabulary.
//   peft tokenizer train --type bpe|wordpiece --input corpus.txt [--input more.txt]
//        --vocab-size N [--min-frequency F] [--lowercase] [--limit-alphabet N] --out DIR
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/command.h"
#include "engine/core/error.h"
#include "models/tokenizers/train/corpus.h"
#include "models/tokenizers/train/train.h"

namespace app {
namespace {

struct TrainArgs {
  std::string type, out;
  std::vector<std::string> inputs;
  std::size_t vocab_size = 0, limit_alphabet = 1000;
  uint64_t min_frequency = 2;
  bool lowercase = false;
};

template <typename T>
models::train::TrainStats train_and_save(const std::vector<std::string>& texts, const TrainArgs& args,
                                         const models::train::TrainOptions& options, T train) {
  auto trained = train(texts, options);
  models::train::save_atomically(*trained.tokenizer, args.out);
  return trained.stats;
}

void run(const TrainArgs& args) {
  namespace fs = std::filesystem;
  engine::check<engine::IOError>(!fs::exists(args.out) || fs::is_directory(args.out), "[tokenizer train] --out ",
                                 args.out, " exists and is not a folder");
  const std::vector<fs::path> files(args.inputs.begin(), args.inputs.end());
  const std::vector<std::string> texts = models::train::read_corpus(files);

  models::train::TrainOptions options;
  options.vocab_size = args.vocab_size;
  options.min_frequency = args.min_frequency;
  options.lowercase = args.lowercase;
  options.limit_alphabet = args.limit_alphabet;
  options.log = [](const std::string& line) { std::cerr << "  " << line << "\n"; };
  std::cerr << "training a " << args.type << " tokenizer on " << files.size() << " file(s)\n";

  const models::train::TrainStats s =
      args.type == "bpe" ? train_and_save(texts, args, options, models::train::train_bpe)
                         : train_and_save(texts, args, options, models::train::train_wordpiece);
  std::printf("%s tokenizer: vocab %zu (%zu special, %zu alphabet characters), %zu merges, %.2f s, "
              "%.3f tokens/word over %llu words -> %s\n",
              args.type.c_str(), s.vocab_size, s.special_tokens, s.alphabet, s.merges, s.seconds,
              s.tokens_per_word(), static_cast<unsigned long long>(s.words), args.out.c_str());
}

const Command kTokenizer("tokenizer", "Tokenizer tools (train)", [](CLI::App& sub) {
  sub.require_subcommand(1);
  CLI::App* train = sub.add_subcommand("train", "Train a byte-level BPE or WordPiece tokenizer on text files");
  auto args = std::make_shared<TrainArgs>();
  train->add_option("--type", args->type, "bpe (GPT-2 style) or wordpiece (BERT style)")
      ->required()
      ->check(CLI::IsMember({"bpe", "wordpiece"}));
  train->add_option("--input", args->inputs, "a text corpus file (repeatable)")->required();
  train->add_option("--vocab-size", args->vocab_size, "vocabulary size, special tokens included")
      ->required()
      ->check(CLI::PositiveNumber);
  train->add_option("--min-frequency", args->min_frequency, "never merge a pair seen fewer times")
      ->capture_default_str();
  train->add_flag("--lowercase", args->lowercase, "wordpiece: lower-case and strip accents");
  train->add_option("--limit-alphabet", args->limit_alphabet, "wordpiece: keep at most N characters")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  train->add_option("--out", args->out, "output folder (HF tokenizer files)")->required();
  train->callback([args] { run(*args); });
});

}  // namespace
}  // namespace app
