// coco-caption's ROUGE-L and CIDEr, and an approximation of its PTB tokenisation (see coco.h).
#include "app/metrics/coco.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

#include "app/metrics/ngrams.h"
#include "app/metrics/text.h"
#include "engine/core/error.h"

namespace app::metrics {
namespace {

using Tokens = std::vector<std::string>;

// Python's str.split(" "): every single space separates, so "" gives [""].
Tokens split_spaces(const std::string& s) {
  Tokens out(1);
  for (char c : s) {
    if (c == ' ')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

bool is_edge_punct(char c) {
  return std::string_view(".,;:!?\"'()[]{}`").find(c) != std::string_view::npos;
}

std::string bracket_token(char c) {
  switch (c) {
    case '(': return "-lrb-";
    case ')': return "-rrb-";
    case '[': return "-lsb-";
    case ']': return "-rsb-";
    case '{': return "-lcb-";
    case '}': return "-rcb-";
    default: return std::string(1, c);
  }
}

// Splits one whitespace-delimited chunk into PTB-like tokens.
void tokenize_chunk(std::string w, Tokens& out) {
  Tokens head, tail;
  while (!w.empty() && is_edge_punct(w.front())) {
    head.push_back(bracket_token(w.front()));
    w.erase(0, 1);
  }
  while (!w.empty() && is_edge_punct(w.back()) && w.back() != '\'') {
    tail.insert(tail.begin(), bracket_token(w.back()));
    w.pop_back();
  }
  for (std::string_view clitic : {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m", "'"}) {
    if (w.size() > clitic.size() && w.ends_with(clitic)) {
      tail.insert(tail.begin(), std::string(clitic));
      w.resize(w.size() - clitic.size());
      break;
    }
  }
  out.insert(out.end(), head.begin(), head.end());
  if (!w.empty()) out.push_back(w);
  out.insert(out.end(), tail.begin(), tail.end());
}

}  // namespace

std::string coco_tokenize(const std::string& text) {
  static const std::set<std::string> kPunct = {"''", "'", "``", "`", ".", "?", "!",
                                               ",", ":", "-", "--", "...", ";", "\""};
  Tokens toks;
  for (auto& chunk : split_whitespace(lowercase(text))) tokenize_chunk(chunk, toks);
  Tokens kept;
  for (auto& t : toks)
    if (!kPunct.count(t)) kept.push_back(t);
  return join(kept);
}

size_t lcs_length(const Tokens& a, const Tokens& b) {
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double rouge_l_segment(const std::string& hyp, const std::vector<std::string>& refs,
                       double beta) {
  engine::check<engine::ValueError>(!refs.empty(), "[rouge_l] a hypothesis has no reference");
  const Tokens c = split_spaces(hyp);
  double prec_max = 0, rec_max = 0;
  for (const auto& ref : refs) {
    const Tokens r = split_spaces(ref);
    const double lcs = static_cast<double>(lcs_length(r, c));
    prec_max = std::max(prec_max, lcs / static_cast<double>(c.size()));
    rec_max = std::max(rec_max, lcs / static_cast<double>(r.size()));
  }
  if (prec_max == 0 || rec_max == 0) return 0.0;
  return (1 + beta * beta) * prec_max * rec_max / (rec_max + beta * beta * prec_max);
}

double rouge_l(const std::vector<std::string>& hyps,
               const std::vector<std::vector<std::string>>& refs, double beta) {
  engine::check<engine::ValueError>(hyps.size() == refs.size() && !hyps.empty(), "[rouge_l] ",
                                    hyps.size(), " hypotheses but ", refs.size(),
                                    " reference lists");
  double sum = 0;
  for (size_t i = 0; i < hyps.size(); ++i) sum += rouge_l_segment(hyps[i], refs[i], beta);
  return sum / static_cast<double>(hyps.size());
}

namespace {

// A tf-idf vector per n-gram order, its norms, and coco's "length" (the bigram count).
struct TfIdf {
  std::vector<NgramCounts> vec;
  std::vector<double> norm;
  double length = 0;
};

TfIdf to_tfidf(const std::vector<NgramCounts>& counts, const NgramCounts& df, double log_n) {
  TfIdf t{std::vector<NgramCounts>(counts.size()), std::vector<double>(counts.size(), 0.0), 0};
  for (size_t n = 0; n < counts.size(); ++n) {
    for (const auto& [gram, tf] : counts[n]) {
      auto it = df.find(gram);
      const double d = std::log(std::max(1.0, it == df.end() ? 0.0 : it->second));
      const double w = tf * (log_n - d);
      t.vec[n][gram] = w;
      t.norm[n] += w * w;
      if (n == 1) t.length += tf;  // coco-caption counts bigrams here, not words
    }
    t.norm[n] = std::sqrt(t.norm[n]);
  }
  return t;
}

double similarity(const TfIdf& hyp, const TfIdf& ref, double sigma) {
  const double delta = hyp.length - ref.length;
  double sum = 0;
  for (size_t n = 0; n < hyp.vec.size(); ++n) {
    double val = 0;
    for (const auto& [gram, w] : hyp.vec[n]) {
      auto it = ref.vec[n].find(gram);
      const double r = it == ref.vec[n].end() ? 0.0 : it->second;
      val += std::min(w, r) * r;  // clipped (CIDEr-D)
    }
    if (hyp.norm[n] != 0 && ref.norm[n] != 0) val /= hyp.norm[n] * ref.norm[n];
    sum += val * std::exp(-(delta * delta) / (2 * sigma * sigma));
  }
  return sum / static_cast<double>(hyp.vec.size());
}

}  // namespace

CiderScore cider(const std::vector<std::string>& hyps,
                 const std::vector<std::vector<std::string>>& refs, int max_order,
                 double sigma) {
  engine::check<engine::ValueError>(hyps.size() == refs.size() && !hyps.empty(), "[cider] ",
                                    hyps.size(), " hypotheses but ", refs.size(),
                                    " reference lists");
  std::vector<std::vector<std::vector<NgramCounts>>> ref_counts(refs.size());
  NgramCounts df;  // in how many segments' reference sets each n-gram occurs
  for (size_t i = 0; i < refs.size(); ++i) {
    engine::check<engine::ValueError>(!refs[i].empty(), "[cider] hypothesis ", i,
                                      " has no reference");
    std::set<std::string> seen;
    for (const auto& r : refs[i]) {
      ref_counts[i].push_back(count_ngrams(split_whitespace(r), max_order));
      for (const auto& order : ref_counts[i].back())
        for (const auto& [gram, c] : order) seen.insert(gram);
    }
    for (const auto& g : seen) df[g] += 1;
  }
  const double log_n = std::log(static_cast<double>(refs.size()));
  CiderScore out;
  double total = 0;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const TfIdf h = to_tfidf(count_ngrams(split_whitespace(hyps[i]), max_order), df, log_n);
    double s = 0;
    for (const auto& rc : ref_counts[i]) s += similarity(h, to_tfidf(rc, df, log_n), sigma);
    s = s / static_cast<double>(ref_counts[i].size()) * 10.0;
    out.segments.push_back(s);
    total += s;
  }
  out.score = total / static_cast<double>(hyps.size());
  return out;
}

}  // namespace app::metrics
