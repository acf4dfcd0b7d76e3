// The model-independent half of models::Tokenizer: splitting on special tokens, turning
// tokens into ids, special tokens, truncation, padding and decode, as HF's slow tokenizers do.
#include "models/tokenizers/tokenizer.h"

#include <algorithm>
#include <unordered_set>

#include "engine/core/error.h"
#include "models/tokenizers/unicode/unicode.h"

namespace models {
namespace {

struct Chunk {
  std::string text;
  bool special;
};

// Splits text at every literal occurrence of a special token (longest match first).
std::vector<Chunk> split_on_specials(std::string_view text, const std::vector<std::string>& specials) {
  std::vector<Chunk> chunks;
  std::string current;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t best = 0;
    for (const std::string& s : specials)
      if (s.size() > best && text.compare(i, s.size(), s) == 0) best = s.size();
    if (best == 0) {
      current.push_back(text[i++]);
      continue;
    }
    if (!current.empty()) chunks.push_back({std::move(current), false});
    current.clear();
    chunks.push_back({std::string(text.substr(i, best)), true});
    i += best;
  }
  if (!current.empty()) chunks.push_back({std::move(current), false});
  return chunks;
}

void append(Encoding& to, const Encoding& from, int64_t type_id) {
  to.ids.insert(to.ids.end(), from.ids.begin(), from.ids.end());
  to.tokens.insert(to.tokens.end(), from.tokens.begin(), from.tokens.end());
  to.token_type_ids.insert(to.token_type_ids.end(), from.size(), type_id);
}

// Drops n tokens from one end of a sequence (ids and tokens only: not yet built).
void drop(Encoding& e, std::size_t n, Side side) {
  if (side == Side::kRight) {
    e.ids.resize(e.ids.size() - n);
    e.tokens.resize(e.tokens.size() - n);
  } else {
    e.ids.erase(e.ids.begin(), e.ids.begin() + n);
    e.tokens.erase(e.tokens.begin(), e.tokens.begin() + n);
  }
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

}  // namespace

std::vector<std::string> SpecialTokens::all() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& t) {
    if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  for (const std::string* t : {&bos, &eos, &unk, &sep, &pad, &cls, &mask}) add(*t);
  for (const std::string& t : additional) add(t);
  return out;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  std::vector<Chunk> chunks = split_on_specials(text, special_.all());
  if (strip_around_special_) {
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      if (!chunks[i].special) continue;
      if (i > 0 && !chunks[i - 1].special)
        chunks[i - 1].text = unicode::py_strip(chunks[i - 1].text, false, true);
      if (i + 1 < chunks.size() && !chunks[i + 1].special)
        chunks[i + 1].text = unicode::py_strip(chunks[i + 1].text, true, false);
    }
  }
  std::vector<std::string> tokens;
  for (Chunk& c : chunks) {
    if (c.text.empty()) continue;
    if (c.special) {
      tokens.push_back(std::move(c.text));
    } else {
      std::vector<std::string> t = tokenize_chunk(c.text);
      tokens.insert(tokens.end(), std::make_move_iterator(t.begin()), std::make_move_iterator(t.end()));
    }
  }
  return tokens;
}

int64_t Tokenizer::convert_token(const std::string& token) const {
  if (auto id = token_to_id(token)) return *id;
  if (auto unk = unk_id()) return *unk;
  engine::fail<engine::KeyError>("[tokenizer] token '", token,
                                 "' is not in the vocabulary and there is no unknown token");
}

std::optional<int64_t> Tokenizer::role_id(const std::string& token) const {
  if (token.empty()) return std::nullopt;
  return token_to_id(token);
}

bool Tokenizer::is_special_id(int64_t id) const {
  for (const std::string& t : special_.all())
    if (token_to_id(t) == id) return true;
  return false;
}

Encoding Tokenizer::pieces(std::string_view text) const {
  Encoding e;
  e.tokens = tokenize(text);
  e.ids.reserve(e.tokens.size());
  for (const std::string& t : e.tokens) e.ids.push_back(convert_token(t));
  return e;
}

Encoding Tokenizer::add_special(const Encoding& a, const Encoding* b) const {
  Encoding out;
  append(out, a, 0);
  if (b) append(out, *b, 1);
  return out;
}

std::size_t Tokenizer::num_special_tokens_to_add(bool pair) const {
  const Encoding empty;
  return add_special(empty, pair ? &empty : nullptr).size();
}

Encoding Tokenizer::prepare(Encoding a, std::optional<Encoding> b, const EncodeOptions& options) const {
  const std::optional<std::size_t> max_length = options.max_length ? options.max_length : model_max_length_;
  if (options.truncation && max_length) {
    const std::size_t specials = options.add_special_tokens ? num_special_tokens_to_add(b.has_value()) : 0;
    const std::size_t total = a.size() + (b ? b->size() : 0) + specials;
    if (total > *max_length) {
      const std::size_t remove = total - *max_length;
      std::size_t from_a = 0, from_b = 0;
      // longest_first: one token at a time from the longer sequence (ties: from the second).
      for (std::size_t k = 0; k < remove; ++k) {
        if (!b || a.size() - from_a > b->size() - from_b)
          ++from_a;
        else
          ++from_b;
      }
      // A single sequence keeps at least one token (HF refuses to truncate it away).
      const bool fits = b ? (from_a <= a.size() && from_b <= b->size()) : from_a < a.size();
      engine::check<engine::ValueError>(fits, "[tokenizer] cannot truncate to max_length ", *max_length, ": ",
                                        specials, " special tokens alone need more room");
      drop(a, from_a, options.truncation_side);
      if (b) drop(*b, from_b, options.truncation_side);
    }
  }
  Encoding out;
  if (options.add_special_tokens) {
    out = add_special(a, b ? &*b : nullptr);
  } else {
    append(out, a, 0);
    if (b) append(out, *b, 0);  // HF: no special tokens -> type ids all 0
  }
  out.attention_mask.assign(out.size(), 1);
  return out;
}

void Tokenizer::pad_batch(std::vector<Encoding>& batch, const EncodeOptions& options) const {
  if (options.padding == Padding::kNone) return;
  std::size_t target = 0;
  if (options.padding == Padding::kLongest) {
    for (const Encoding& e : batch) target = std::max(target, e.size());
  } else {
    const auto max_length = options.max_length ? options.max_length : model_max_length_;
    engine::check<engine::ValueError>(
        max_length.has_value(),
        "[tokenizer] padding to max_length needs a max_length (the tokenizer has no model_max_length)");
    target = *max_length;
  }
  const std::optional<int64_t> pad = pad_id();
  for (Encoding& e : batch) {
    if (e.size() >= target) continue;
    engine::check<engine::ValueError>(pad.has_value(), "[tokenizer] padding needs a pad token; this ", kind(),
                                      " tokenizer has none");
    const std::size_t n = target - e.size();
    const bool right = options.padding_side == Side::kRight;
    auto fill = [&](auto& v, const auto& value) { v.insert(right ? v.end() : v.begin(), n, value); };
    fill(e.ids, *pad);
    fill(e.tokens, special_.pad);
    fill(e.token_type_ids, int64_t{0});
    fill(e.attention_mask, int64_t{0});
  }
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  return prepare(pieces(text), std::nullopt, options);
}

Encoding Tokenizer::encode_pair(std::string_view a, std::string_view b, bool add_special_tokens) const {
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  return prepare(pieces(a), pieces(b), options);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                              const EncodeOptions& options) const {
  std::vector<Encoding> batch;
  batch.reserve(texts.size());
  for (const std::string& t : texts) batch.push_back(prepare(pieces(t), std::nullopt, options));
  pad_batch(batch, options);
  return batch;
}

std::vector<Encoding> Tokenizer::encode_pair_batch(const std::vector<std::string>& a,
                                                   const std::vector<std::string>& b,
                                                   const EncodeOptions& options) const {
  engine::check<engine::ValueError>(a.size() == b.size(), "[tokenizer] encode_pair_batch: ", a.size(),
                                    " first texts but ", b.size(), " second texts");
  std::vector<Encoding> batch;
  batch.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) batch.push_back(prepare(pieces(a[i]), pieces(b[i]), options));
  pad_batch(batch, options);
  return batch;
}

// HF's _decode: ordinary tokens are turned into text together; added tokens stand alone and
// the parts are joined with spaces.
std::string Tokenizer::decode(std::span<const int64_t> ids, bool skip_special_tokens,
                              bool clean_up_tokenization_spaces) const {
  std::unordered_set<int64_t> special_ids;
  if (skip_special_tokens)
    for (const std::string& t : special_.all())
      if (auto id = token_to_id(t)) special_ids.insert(*id);
  std::vector<std::string> parts, current;
  auto flush = [&] {
    if (current.empty()) return;
    std::string s = tokens_to_string(current);
    if (!s.empty()) parts.push_back(std::move(s));
    current.clear();
  };
  for (int64_t id : ids) {
    if (special_ids.count(id)) continue;
    std::string token = id_to_token(id);
    if (is_added_token(token)) {
      flush();
      parts.push_back(std::move(token));
    } else {
      current.push_back(std::move(token));
    }
  }
  flush();
  std::string text;
  for (std::size_t i = 0; i < parts.size(); ++i) text += (i ? " " : "") + parts[i];
  return clean_up_tokenization_spaces ? clean_up_tokenization(std::move(text)) : text;
}

std::string clean_up_tokenization(std::string text) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) replace_all(text, from, to);
  return text;
}

}  // namespace models
