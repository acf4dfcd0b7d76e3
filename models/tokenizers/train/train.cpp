// train_bpe / train_wordpiece: count the corpus' words with the model's own pre-tokeniser,
// learn merges (merge_trainer.h), build the tokenizer and measure it on the same corpus.
#include "models/tokenizers/train/train.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "engine/core/error.h"
#include "models/tokenizers/bert_basic.h"
#include "models/tokenizers/gpt2_pretokenize.h"
#include "models/tokenizers/train/corpus.h"
#include "models/tokenizers/train/merge_trainer.h"
#include "models/tokenizers/unicode/unicode.h"

namespace models::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <typename... Args>
void log(const TrainOptions& o, const Args&... args) {
  if (!o.log) return;
  std::ostringstream os;
  os << std::fixed << std::setprecision(2);
  (os << ... << args);
  o.log(os.str());
}

// Whitespace alone (GPT-2 keeps it as pieces) is no corpus either.
void check_has_words(const WordCounts& words, std::span<const std::string> texts) {
  const bool any = std::any_of(words.begin(), words.end(), [](const WordCount& w) {
    const std::u32string chars = unicode::to_u32(w.word);
    return !std::all_of(chars.begin(), chars.end(), unicode::is_white_space);
  });
  std::size_t bytes = 0;
  for (const std::string& t : texts) bytes += t.size();
  engine::check<engine::IOError>(any, "[tokenizer train] the corpus holds no words to train on (", texts.size(),
                                 " texts, ", bytes, " bytes)");
}

// `defaults` then the additional tokens that are not already among them.
std::vector<std::string> special_list(std::vector<std::string> defaults, const std::vector<std::string>& more) {
  for (const std::string& t : more)
    if (std::find(defaults.begin(), defaults.end(), t) == defaults.end()) defaults.push_back(t);
  return defaults;
}

MergeOptions merge_options(const TrainOptions& o, std::vector<std::string> specials) {
  MergeOptions m;
  m.vocab_size = o.vocab_size;
  m.min_frequency = o.min_frequency;
  m.special_tokens = std::move(specials);
  m.on_progress = [&o](std::size_t merges, std::size_t vocab) {
    log(o, "merges: ", merges, ", vocabulary: ", vocab, " / ", o.vocab_size);
  };
  return m;
}

// Fills the stats every trainer shares; `words` hold the text the tokenizer is given.
template <typename T>
TrainStats measure(const T& tokenizer, const WordCounts& words, const MergeResult& r, std::size_t specials) {
  TrainStats s;
  s.vocab_size = static_cast<std::size_t>(tokenizer.vocab_size());
  s.merges = r.merges.size();
  s.alphabet = r.alphabet;
  s.special_tokens = specials;
  s.distinct_words = words.size();
  for (const WordCount& w : words) {
    s.words += w.count;
    s.tokens += w.count * tokenizer.tokenize(w.word).size();
  }
  return s;
}

}  // namespace

Trained<BpeTokenizer> train_bpe(std::span<const std::string> texts, const TrainOptions& o) {
  const Clock::time_point start = Clock::now();
  engine::check<engine::ConfigError>(!o.lowercase, "[tokenizer train] lower-casing is for WordPiece only: "
                                                   "byte-level BPE encodes the text as it is");
  const std::vector<std::string> specials = special_list({"<|endoftext|>"}, o.additional_special_tokens);
  const auto& bytes = byte_to_unicode();
  engine::check<engine::ConfigError>(o.vocab_size >= specials.size() + bytes.size(), "[tokenizer train] vocab size ",
                                     o.vocab_size, " is smaller than the initial vocabulary of ",
                                     specials.size() + bytes.size(), " tokens (", specials.size(),
                                     " special + 256 byte characters)");

  // Words are counted as text (the tokenizer measures them so), trained as byte characters.
  const WordCounts words = count_words(texts, [](std::string_view line) { return gpt2_pretokenize(line); });
  check_has_words(words, texts);
  log(o, "counted ", total_count(words), " words (", words.size(), " distinct) in ", seconds_since(start), " s");
  WordCounts mapped = words;
  for (WordCount& w : mapped) {
    std::string m;
    for (unsigned char b : w.word) m += bytes[b];
    w.word = std::move(m);
  }

  MergeOptions m = merge_options(o, specials);
  m.initial_alphabet.assign(bytes.begin(), bytes.end());
  MergeResult r = learn_merges(mapped, m);

  BpeTokenizer::Options options;  // <|endoftext|> is bos, eos and unk, as in GPT-2
  options.special.additional.assign(specials.begin() + 1, specials.end());
  auto tokenizer = std::make_unique<BpeTokenizer>(r.vocab, r.merges, options);
  TrainStats stats = measure(*tokenizer, words, r, specials.size());
  stats.seconds = seconds_since(start);
  return {std::move(tokenizer), stats};
}

Trained<WordPieceTokenizer> train_wordpiece(std::span<const std::string> texts, const TrainOptions& o) {
  const Clock::time_point start = Clock::now();
  WordPieceTokenizer::Options options;
  options.basic.lower_case = o.lowercase;  // accents are stripped when lower-casing (BERT's rule)
  const SpecialTokens& s = options.special;
  const std::vector<std::string> specials =
      special_list({s.pad, s.unk, s.cls, s.sep, s.mask}, o.additional_special_tokens);
  options.special.additional.assign(specials.begin() + 5, specials.end());

  const BertBasicOptions basic = options.basic;
  const WordCounts words =
      count_words(texts, [&basic](std::string_view line) { return bert_basic_tokenize(line, basic); });
  check_has_words(words, texts);
  log(o, "counted ", total_count(words), " words (", words.size(), " distinct) in ", seconds_since(start), " s");

  MergeOptions m = merge_options(o, specials);
  m.limit_alphabet = o.limit_alphabet;
  m.continuing_prefix = options.continuing_prefix;
  MergeResult r = learn_merges(words, m);

  auto tokenizer = std::make_unique<WordPieceTokenizer>(r.vocab, options);
  TrainStats stats = measure(*tokenizer, words, r, specials.size());
  stats.seconds = seconds_since(start);
  return {std::move(tokenizer), stats};
}

}  // namespace models::train
