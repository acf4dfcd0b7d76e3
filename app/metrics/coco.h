// ROUGE-L and CIDEr as coco-caption computes them (tylin/coco-caption, pycocoevalcap/rouge/
// rouge.py and cider/cider_scorer.py), which is what the E2E challenge's scripts report:
//  - ROUGE-L: per segment, LCS precision and recall against each reference, the maximum of each
//    over the references, F with beta = 1.2; averaged over segments.
//  - CIDEr (coco-caption's, i.e. CIDEr-D): 1..4-gram tf-idf vectors, document frequencies over
//    the reference sets of the evaluated corpus, clipped cosine similarity with a Gaussian
//    length penalty (sigma 6, on the bigram count: an upstream quirk kept on purpose), mean over
//    orders and references, times 10; averaged over segments.
// Both take text that is already tokenised (tokens split on spaces). coco-caption tokenises
// with Stanford CoreNLP's Java PTBTokenizer; coco_tokenize() approximates it (see below).
#pragma once
#include <string>
#include <vector>

namespace app::metrics {

// An approximation of coco-caption's PTBTokenizer step (-lowerCase, then dropping its
// punctuation tokens): lowercases, splits punctuation and the clitics n't 's 're 've 'll 'd 'm
// off words, maps brackets to -lrb- style tokens, and drops . , ; : ! ? ' '' ` `` - -- ....
// CoreNLP's rules for abbreviations and some symbols differ, so ROUGE-L/CIDEr on raw text can
// differ slightly from coco-caption's; on pre-tokenised text the scores are exact.
std::string coco_tokenize(const std::string& text);

// LCS length of two token sequences.
size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b);

// coco-caption's Rouge.calc_score for one segment.
double rouge_l_segment(const std::string& hyp, const std::vector<std::string>& refs,
                       double beta = 1.2);

// Mean ROUGE-L over segments; refs[i] are the references of hyps[i].
double rouge_l(const std::vector<std::string>& hyps,
               const std::vector<std::vector<std::string>>& refs, double beta = 1.2);

struct CiderScore {
  double score = 0;               // mean over segments
  std::vector<double> segments;   // per-segment CIDEr
};

CiderScore cider(const std::vector<std::string>& hyps,
                 const std::vector<std::vector<std::string>>& refs, int max_order = 4,
                 double sigma = 6.0);

}  // namespace app::metrics
