// BLEU and NIST as the E2E NLG Challenge's official scripts compute them (tuetschek/e2e-metrics,
// metrics/pymteval.py, which reimplements mteval-v13a.pl): mteval-v13a tokenisation,
// case-insensitive matching by default, BLEU-4 with no smoothing beyond a 1e-15 floor, and
// NIST-5 with information weights from the reference n-gram counts of the whole test set.
// Scores are on the scripts' scales (BLEU 0..1, NIST unbounded, ~8.5 for good E2E systems).
//
// Where pymteval differs from mteval-v13a.pl it is followed, since the E2E numbers in papers come
// from it: several references of different counts per segment are averaged per segment for the
// NIST length penalty, and an n-gram order's candidate length is sum(len - n + 1) without
// clamping short segments at zero (an order whose total is 0 counts as 1, as in the LoRA
// authors' copy, instead of dividing by zero).
#pragma once
#include <string>
#include <vector>

namespace app::metrics {

// pymteval's NGramScore.tokenize: 13a tokens; an empty sentence is one empty token, as there.
std::vector<std::string> tokenize_mteval(const std::string& sent);

struct MtevalOptions {
  bool case_sensitive = false;
  int bleu_order = 4;
  int nist_order = 5;
  double bleu_smoothing = 0.0;  // add-constant smoothing (sentBLEU uses 1.0)
};

// refs[i] are the references of hyps[i].
double mteval_bleu(const std::vector<std::string>& hyps,
                   const std::vector<std::vector<std::string>>& refs,
                   const MtevalOptions& options = {});

double mteval_nist(const std::vector<std::string>& hyps,
                   const std::vector<std::vector<std::string>>& refs,
                   const MtevalOptions& options = {});

}  // namespace app::metrics
