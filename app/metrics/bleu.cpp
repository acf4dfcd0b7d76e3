// sacreBLEU-compatible corpus BLEU (see bleu.h).
#include "app/metrics/bleu.h"

#include <cmath>
#include <cstdlib>

#include "app/metrics/ngrams.h"
#include "app/metrics/text.h"
#include "engine/core/error.h"

namespace app::metrics {
namespace {

std::vector<std::string> preprocess(const std::string& sent, BleuTokenize tok) {
  const std::string_view trimmed = rstrip_whitespace(sent);  // sacreBLEU rstrips first
  if (tok == BleuTokenize::T13a) return split_whitespace(tokenize_13a(trimmed));
  return split_whitespace(trimmed);
}

// sacreBLEU's _get_closest_ref_len: closest length, ties broken towards the shorter one.
long closest_ref_len(long hyp_len, const std::vector<long>& ref_lens) {
  long best = -1, best_diff = -1;
  for (long len : ref_lens) {
    const long diff = std::labs(hyp_len - len);
    if (best_diff == -1 || diff < best_diff) {
      best_diff = diff;
      best = len;
    } else if (diff == best_diff && len < best) {
      best = len;
    }
  }
  return best;
}

// sacreBLEU's my_log: log(0) is a huge negative number rather than -inf.
double my_log(double x) { return x == 0 ? -9999999999.0 : std::log(x); }

}  // namespace

BleuScore compute_bleu(std::vector<double> correct, std::vector<double> total, long sys_len,
                       long ref_len, const BleuOptions& opt) {
  const int max_order = opt.max_order;
  double smooth_value = opt.smooth_value;
  if (smooth_value < 0) smooth_value = opt.smooth == BleuSmooth::Floor ? 0.1 : 1.0;

  BleuScore s;
  s.sys_len = sys_len;
  s.ref_len = ref_len;
  s.precisions.assign(max_order, 0.0);
  s.bp = sys_len < ref_len ? (sys_len > 0 ? std::exp(1.0 - double(ref_len) / sys_len) : 0.0)
                           : 1.0;
  bool any = false;
  for (double c : correct) any = any || c != 0;
  if (!any) {  // sacreBLEU #141: no match at all is BLEU 0 whatever the smoothing
    s.correct = std::move(correct);
    s.total = std::move(total);
    return s;
  }
  double smooth_mteval = 1.0;
  int eff_order = max_order;
  for (int n = 1; n <= max_order; ++n) {
    if (opt.smooth == BleuSmooth::AddK && n > 1) {
      correct[n - 1] += smooth_value;
      total[n - 1] += smooth_value;
    }
    if (total[n - 1] == 0) break;
    if (opt.effective_order) eff_order = n;
    if (correct[n - 1] == 0) {
      if (opt.smooth == BleuSmooth::Exp) {
        smooth_mteval *= 2;
        s.precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
      } else if (opt.smooth == BleuSmooth::Floor) {
        s.precisions[n - 1] = 100.0 * smooth_value / total[n - 1];
      }
    } else {
      s.precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
    }
  }
  double log_sum = 0;
  for (int n = 0; n < eff_order; ++n) log_sum += my_log(s.precisions[n]);
  s.score = s.bp * std::exp(log_sum / eff_order);
  s.correct = std::move(correct);
  s.total = std::move(total);
  return s;
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs, const BleuOptions& opt) {
  engine::check<engine::ValueError>(hyps.size() == refs.size(), "[bleu] ", hyps.size(),
                                    " hypotheses but ", refs.size(), " reference lists");
  const int max_order = opt.max_order;
  std::vector<double> correct(max_order, 0.0), total(max_order, 0.0);
  long sys_len = 0, ref_len = 0;
  for (size_t i = 0; i < hyps.size(); ++i) {
    std::vector<std::vector<std::string>> ref_tokens;
    std::vector<long> ref_lens;
    for (const auto& r : refs[i]) {
      if (r.empty()) continue;  // sacreBLEU drops empty references
      ref_tokens.push_back(preprocess(r, opt.tokenize));
      ref_lens.push_back(static_cast<long>(ref_tokens.back().size()));
    }
    engine::check<engine::ValueError>(!ref_tokens.empty(), "[bleu] hypothesis ", i,
                                      " has no non-empty reference");
    const auto hyp = preprocess(hyps[i], opt.tokenize);
    const auto ref_max = max_ngram_counts(ref_tokens, max_order);
    const auto hyp_counts = count_ngrams(hyp, max_order);
    for (int n = 0; n < max_order; ++n)
      for (const auto& [gram, c] : hyp_counts[n]) {
        total[n] += c;
        auto it = ref_max[n].find(gram);
        if (it != ref_max[n].end()) correct[n] += std::min(c, it->second);
      }
    sys_len += static_cast<long>(hyp.size());
    ref_len += closest_ref_len(static_cast<long>(hyp.size()), ref_lens);
  }
  return compute_bleu(std::move(correct), std::move(total), sys_len, ref_len, opt);
}

BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs,
                        BleuOptions options) {
  options.effective_order = true;
  return corpus_bleu({hyp}, {refs}, options);
}

}  // namespace app::metrics
