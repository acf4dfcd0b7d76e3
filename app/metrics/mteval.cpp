// E2E-challenge BLEU and NIST (pymteval semantics; see mteval.h).
#include "app/metrics/mteval.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "app/metrics/ngrams.h"
#include "app/metrics/text.h"
#include "engine/core/error.h"

namespace app::metrics {
namespace {

using Tokens = std::vector<std::string>;

void check_sizes(const char* metric, size_t hyps, size_t refs) {
  engine::check<engine::ValueError>(hyps == refs, "[", metric, "] ", hyps,
                                    " hypotheses but ", refs, " reference lists");
}

// Tokenises a hypothesis and its references; lowercases token-wise unless case-sensitive
// (pymteval lowercases inside its n-gram extraction, with Python's str.lower()).
Tokens prepare(const std::string& sent, bool case_sensitive) {
  Tokens toks = tokenize_mteval(sent);
  if (!case_sensitive)
    for (auto& t : toks) t = lowercase(t);
  return toks;
}

std::vector<Tokens> prepare_all(const std::vector<std::string>& refs, bool case_sensitive) {
  engine::check<engine::ValueError>(!refs.empty(), "[mteval] a hypothesis has no reference");
  std::vector<Tokens> out;
  for (const auto& r : refs) out.push_back(prepare(r, case_sensitive));
  return out;
}

// NIST's length penalty: 1 at ratio >= 1, 0.5 at ratio 2/3, exp(-beta log(ratio)^2).
double nist_length_penalty(double sys_len, double avg_ref_len) {
  const double ratio = sys_len / avg_ref_len;
  if (ratio >= 1) return 1;
  if (ratio <= 0) return 0;
  const double beta = -std::log(0.5) / std::pow(std::log(1.5), 2);
  return std::exp(-beta * std::pow(std::log(ratio), 2));
}

// The (n-1)-gram prefix of an n-gram key ("" for unigrams: the 0-gram).
std::string prefix_of(const std::string& gram) {
  const size_t sp = gram.rfind(' ');
  return sp == std::string::npos ? std::string() : gram.substr(0, sp);
}

}  // namespace

Tokens tokenize_mteval(const std::string& sent) {
  Tokens toks = split_whitespace(tokenize_13a(sent));
  if (toks.empty()) toks.emplace_back();  // Python's "".split(' ') == ['']
  return toks;
}

double mteval_bleu(const std::vector<std::string>& hyps,
                   const std::vector<std::vector<std::string>>& refs, const MtevalOptions& opt) {
  check_sizes("bleu", hyps.size(), refs.size());
  const int order = opt.bleu_order;
  std::vector<double> hits(order, 0.0), cand_lens(order, 0.0);
  double ref_len = 0;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const Tokens hyp = prepare(hyps[i], opt.case_sensitive);
    const auto ref_toks = prepare_all(refs[i], opt.case_sensitive);
    const auto ref_max = max_ngram_counts(ref_toks, order);
    const auto hyp_counts = count_ngrams(hyp, order);
    for (int n = 0; n < order; ++n) {
      for (const auto& [gram, c] : hyp_counts[n]) {
        auto it = ref_max[n].find(gram);
        if (it != ref_max[n].end()) hits[n] += std::min(c, it->second);
      }
      cand_lens[n] += static_cast<double>(hyp.size()) - n;
    }
    // The closest reference; on a tie the shorter one.
    const Tokens* best = &ref_toks[0];
    for (const auto& r : ref_toks) {
      const auto d = std::labs(long(r.size()) - long(hyp.size()));
      const auto bd = std::labs(long(best->size()) - long(hyp.size()));
      if (d < bd || (d == bd && r.size() < best->size())) best = &r;
    }
    ref_len += static_cast<double>(best->size());
  }
  double bp = 1.0;
  if (cand_lens[0] <= ref_len) bp = std::exp(1.0 - ref_len / (cand_lens[0] ? cand_lens[0] : 1e-5));
  double log_sum = 0;
  for (int n = 0; n < order; ++n) {
    const double h = std::max(hits[n] + opt.bleu_smoothing, 1e-15);
    const double l = std::max(cand_lens[n] + opt.bleu_smoothing, 1e-9);
    log_sum += std::log(h / l);
  }
  return bp * std::exp(log_sum / order);
}

double mteval_nist(const std::vector<std::string>& hyps,
                   const std::vector<std::vector<std::string>>& refs, const MtevalOptions& opt) {
  check_sizes("nist", hyps.size(), refs.size());
  const int order = opt.nist_order;
  // ref_counts[n]: occurrences of each n-gram over all references; [0][""] = reference words.
  std::vector<NgramCounts> ref_counts(order + 1);
  std::vector<std::vector<NgramCounts>> seg_hits;  // per segment, per order: clipped hits
  std::vector<double> cand_lens(order, 0.0);
  double avg_ref_len = 0;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const Tokens hyp = prepare(hyps[i], opt.case_sensitive);
    const auto ref_toks = prepare_all(refs[i], opt.case_sensitive);
    const auto ref_max = max_ngram_counts(ref_toks, order);
    const auto hyp_counts = count_ngrams(hyp, order);
    std::vector<NgramCounts> hits(order);
    for (int n = 0; n < order; ++n) {
      cand_lens[n] += static_cast<double>(hyp.size()) - n;
      for (const auto& [gram, c] : hyp_counts[n]) {
        auto it = ref_max[n].find(gram);
        if (it != ref_max[n].end()) hits[n][gram] = std::min(c, it->second);
      }
    }
    seg_hits.push_back(std::move(hits));
    double ref_words = 0;
    for (const auto& r : ref_toks) {
      const auto counts = count_ngrams(r, order);
      for (int n = 0; n < order; ++n)
        for (const auto& [gram, c] : counts[n]) ref_counts[n + 1][gram] += c;
      ref_words += static_cast<double>(r.size());
    }
    ref_counts[0][""] += ref_words;
    avg_ref_len += ref_words / static_cast<double>(ref_toks.size());
  }
  // info(w1..wn) = log2(count(w1..wn-1) / count(w1..wn)) over the references.
  double nist_sum = 0;
  for (int n = 0; n < order; ++n) {
    double info_sum = 0;
    for (const auto& hits : seg_hits)
      for (const auto& [gram, h] : hits[n])
        info_sum += std::log2(ref_counts[n].at(prefix_of(gram)) / ref_counts[n + 1].at(gram)) * h;
    nist_sum += info_sum / (cand_lens[n] == 0 ? 1.0 : cand_lens[n]);
  }
  return nist_length_penalty(cand_lens[0], avg_ref_len) * nist_sum;
}

}  // namespace app::metrics
