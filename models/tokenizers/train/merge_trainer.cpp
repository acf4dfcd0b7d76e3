// HF BpeTrainer's merge loop with a lazily updated max-heap of pair counts.
//
// One deliberate difference from HF: HF never subtracts a merged pair's own occurrences from
// its count, and remembers only the words where a pair was first seen; when a merge recreates
// an existing token (e.g. "a"+"bc" after "ab"+"c"), HF can learn the same merge twice. Here
// counts stay exact and every word holding the pair is rewritten, so each merge is learnt
// once. Whenever HF does not hit that case, the merges are the same.
#include "models/tokenizers/train/merge_trainer.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "engine/core/error.h"
#include "models/tokenizers/unicode/unicode.h"

namespace models::train {
namespace {

using Pair = uint64_t;  // (first id << 32) | second id: numeric order = HF's tuple order
Pair make_pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
uint32_t first_of(Pair p) { return static_cast<uint32_t>(p >> 32); }
uint32_t second_of(Pair p) { return static_cast<uint32_t>(p); }

// Tokens by id with their reverse index.
struct Vocab {
  std::vector<std::string> tokens;
  std::unordered_map<std::string, uint32_t> ids;

  uint32_t add(const std::string& token) {
    const auto [it, inserted] = ids.emplace(token, static_cast<uint32_t>(tokens.size()));
    if (inserted) tokens.push_back(token);
    return it->second;
  }
};

// A heap entry: the most frequent pair first, then the smallest pair (HF's Merge ordering).
struct Entry {
  int64_t count;
  Pair pair;
  bool operator<(const Entry& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

std::vector<std::string> characters(const std::string& word) {
  std::vector<std::string> out;
  for (char32_t c : unicode::to_u32(word)) out.push_back(unicode::to_utf8(std::u32string(1, c)));
  return out;
}

// HF's compute_alphabet: characters by corpus frequency (initial ones count as infinite), the
// rarest dropped beyond limit_alphabet, the rest added in code point order. HF breaks ties among
// equally rare characters by hash order; here the larger code point is dropped first.
std::size_t add_alphabet(const WordCounts& words, const MergeOptions& o, Vocab& vocab) {
  std::unordered_map<std::string, uint64_t> freq;
  for (const WordCount& w : words)
    for (const std::string& c : characters(w.word)) freq[c] += w.count;
  for (const std::string& c : o.initial_alphabet) freq[c] = UINT64_MAX;
  std::vector<std::pair<std::u32string, uint64_t>> kept;
  for (const auto& [c, n] : freq) kept.emplace_back(unicode::to_u32(c), n);
  if (o.limit_alphabet && kept.size() > *o.limit_alphabet) {
    std::sort(kept.begin(), kept.end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
    kept.resize(*o.limit_alphabet);
  }
  std::sort(kept.begin(), kept.end());
  for (const auto& [c, n] : kept) vocab.add(unicode::to_utf8(c));
  return kept.size();
}

// HF's tokenize_words: characters outside the alphabet are dropped, non-initial ones prefixed.
std::vector<std::vector<uint32_t>> split_words(const WordCounts& words, const std::string& prefix,
                                               std::size_t alphabet_end, Vocab& vocab) {
  std::vector<std::vector<uint32_t>> out(words.size());
  for (std::size_t w = 0; w < words.size(); ++w) {
    bool first = true;
    for (const std::string& c : characters(words[w].word)) {
      const auto it = vocab.ids.find(c);
      if (it == vocab.ids.end() || it->second >= alphabet_end) continue;  // not in the alphabet
      out[w].push_back(first || prefix.empty() ? it->second : vocab.add(prefix + c));
      first = false;
    }
  }
  return out;
}

// The merge loop's state: words as token ids, exact pair counts, and for each pair the words
// that may hold it (a superset: a word is never removed from a pair's list).
class Merger {
 public:
  Merger(std::vector<std::vector<uint32_t>> words, const WordCounts& counts) : words_(std::move(words)) {
    counts_.reserve(counts.size());
    for (const WordCount& w : counts) counts_.push_back(static_cast<int64_t>(w.count));
    for (uint32_t w = 0; w < words_.size(); ++w)
      for (std::size_t i = 0; i + 1 < words_[w].size(); ++i) add(words_[w][i], words_[w][i + 1], counts_[w], w);
    for (const auto& [pair, n] : pair_counts_)
      if (n > 0) heap_.push({n, pair});
    touched_.clear();
  }

  // The most frequent pair (smallest on ties), or nullopt when none occurs min_count times.
  std::optional<Pair> best(int64_t min_count) {
    while (!heap_.empty()) {
      const Entry top = heap_.top();
      heap_.pop();
      const int64_t actual = pair_counts_[top.pair];
      if (actual == top.count) {
        if (actual < std::max<int64_t>(min_count, 1)) return std::nullopt;
        return top.pair;
      }
      if (actual > 0) heap_.push({actual, top.pair});  // stale entry: re-queue at its real count
    }
    return std::nullopt;
  }

  // Replaces every occurrence of `pair` by `token` and queues the pairs this creates.
  void merge(Pair pair, uint32_t token) {
    touched_.clear();
    // Taken out: every occurrence goes now; a later merge that recreates the pair re-adds its words.
    const std::vector<uint32_t> where = std::move(where_[pair]);
    where_.erase(pair);
    for (uint32_t w : where) merge_word(w, first_of(pair), second_of(pair), token);
    for (Pair p : touched_)
      if (pair_counts_[p] > 0) heap_.push({pair_counts_[p], p});
  }

  const std::vector<std::vector<uint32_t>>& words() const { return words_; }

 private:
  void add(uint32_t a, uint32_t b, int64_t n, uint32_t w) {
    const Pair p = make_pair_key(a, b);
    pair_counts_[p] += n;
    if (n <= 0) return;
    std::vector<uint32_t>& list = where_[p];
    if (list.empty() || list.back() != w) list.push_back(w);
    touched_.insert(p);
  }

  // Left-to-right, non-overlapping (HF's Word::merge), compacting the word in place; s[out-1]
  // is the already rewritten left neighbour, s[i+2] the untouched right one.
  void merge_word(uint32_t w, uint32_t a, uint32_t b, uint32_t ab) {
    std::vector<uint32_t>& s = words_[w];
    const int64_t n = counts_[w];
    std::size_t out = 0;
    for (std::size_t i = 0; i < s.size();) {
      if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
        add(a, b, -n, w);
        if (out > 0) add(s[out - 1], a, -n, w), add(s[out - 1], ab, n, w);
        if (i + 2 < s.size()) add(b, s[i + 2], -n, w), add(ab, s[i + 2], n, w);
        s[out++] = ab;
        i += 2;
      } else {
        s[out++] = s[i++];
      }
    }
    s.resize(out);
  }

  std::vector<std::vector<uint32_t>> words_;
  std::vector<int64_t> counts_;
  std::unordered_map<Pair, int64_t> pair_counts_;
  std::unordered_map<Pair, std::vector<uint32_t>> where_;
  std::priority_queue<Entry> heap_;
  std::unordered_set<Pair> touched_;  // pairs whose count grew during the current merge
};

// HF strips the continuation prefix of the right part: "##a" + "##b" -> "##ab".
std::string merged_token(const std::string& a, const std::string& b, const std::string& prefix) {
  if (!prefix.empty() && b.starts_with(prefix)) return a + b.substr(prefix.size());
  return a + b;
}

}  // namespace

MergeResult learn_merges(const WordCounts& words, const MergeOptions& o) {
  Vocab vocab;
  for (const std::string& t : o.special_tokens) vocab.add(t);
  const std::size_t specials = vocab.tokens.size();
  MergeResult result;
  result.alphabet = add_alphabet(words, o, vocab);
  std::vector<std::vector<uint32_t>> split = split_words(words, o.continuing_prefix, vocab.tokens.size(), vocab);
  result.initial_vocab = vocab.tokens.size();
  engine::check<engine::ConfigError>(
      o.vocab_size >= result.initial_vocab, "[tokenizer train] vocab size ", o.vocab_size,
      " is smaller than the initial vocabulary of ", result.initial_vocab, " tokens (", specials,
      " special + ", result.alphabet, " alphabet characters",
      o.continuing_prefix.empty() ? "" : " + their continuation forms", ")");

  Merger merger(std::move(split), words);
  const auto min_count = static_cast<int64_t>(std::min<uint64_t>(o.min_frequency, INT64_MAX));
  while (vocab.tokens.size() < o.vocab_size) {
    const std::optional<Pair> pair = merger.best(min_count);
    if (!pair) break;
    const std::string& a = vocab.tokens[first_of(*pair)];
    const std::string& b = vocab.tokens[second_of(*pair)];
    result.merges.emplace_back(a, b);
    const uint32_t token = vocab.add(merged_token(a, b, o.continuing_prefix));
    merger.merge(*pair, token);
    if (o.on_progress && result.merges.size() % 500 == 0) o.on_progress(result.merges.size(), vocab.tokens.size());
  }
  if (o.on_progress && (result.merges.empty() || result.merges.size() % 500 != 0))
    o.on_progress(result.merges.size(), vocab.tokens.size());
  result.vocab = std::move(vocab.tokens);
  result.words = merger.words();
  return result;
}

}  // namespace models::train
