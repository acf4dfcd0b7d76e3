// Corpus BLEU exactly as sacreBLEU 2.x computes it (sacrebleu/metrics/bleu.py): default 13a
// tokenisation, exponential ("exp", mteval) smoothing, BLEU-4, closest-reference length for
// the brevity penalty (ties go to the shorter reference), any number of references per
// hypothesis (empty references are dropped, as sacreBLEU does). Scores are on sacreBLEU's
// 0..100 scale.
#pragma once
#include <string>
#include <vector>

namespace app::metrics {

enum class BleuSmooth { None, Floor, AddK, Exp };
enum class BleuTokenize { T13a, None };

struct BleuOptions {
  int max_order = 4;
  BleuSmooth smooth = BleuSmooth::Exp;
  double smooth_value = -1;      // < 0: sacreBLEU's default (floor 0.1, add-k 1)
  bool effective_order = false;  // true for sentence-level BLEU
  BleuTokenize tokenize = BleuTokenize::T13a;
};

struct BleuScore {
  double score = 0;                 // 0..100
  std::vector<double> correct;      // matched n-grams per order (after add-k)
  std::vector<double> total;        // hypothesis n-grams per order
  std::vector<double> precisions;   // 0..100 per order
  double bp = 0;                    // brevity penalty
  long sys_len = 0, ref_len = 0;    // tokens in hypotheses / in the chosen references
};

// refs[i] are the references of hyps[i] (one or more each).
BleuScore corpus_bleu(const std::vector<std::string>& hyps,
                      const std::vector<std::vector<std::string>>& refs,
                      const BleuOptions& options = {});

// sacreBLEU's sentence_score: corpus BLEU of one segment, with effective order on.
BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs,
                        BleuOptions options = {});

// BLEU from sufficient statistics (sacreBLEU's BLEU.compute_bleu).
BleuScore compute_bleu(std::vector<double> correct, std::vector<double> total, long sys_len,
                       long ref_len, const BleuOptions& options);

}  // namespace app::metrics
