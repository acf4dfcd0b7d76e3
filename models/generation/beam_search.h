// Beam search as transformers 4.33 BeamSearchScorer / BeamHypotheses (generation/beam_search.py):
// 2·num_beams candidates per step, eos candidates ranked below num_beams discarded, finished
// hypotheses scored sum_logprobs / length^length_penalty, early_stopping true / false / never.
#pragma once
#include <vector>

#include "models/generation/generate.h"

namespace models::generation {

// The finished hypotheses of one batch item (at most num_beams, the worst evicted).
class BeamHypotheses {
 public:
  BeamHypotheses(int64_t num_beams, double length_penalty, EarlyStopping early_stopping, int64_t max_length)
      : num_beams_(num_beams), length_penalty_(length_penalty), early_stopping_(early_stopping),
        max_length_(max_length) {}

  // `length` is HF's hyp.shape[-1]: every token of the hypothesis, prompt included.
  void add(std::vector<int64_t> tokens, double sum_logprobs, int64_t length, bool ended_with_eos);
  // Whether no running beam can still enter (HF's is_done).
  bool is_done(double best_sum_logprobs, int64_t cur_len) const;
  int64_t size() const { return int64_t(beams_.size()); }

  struct Hypothesis {
    double score;
    std::vector<int64_t> tokens;
    bool ended_with_eos;
  };
  // The highest score (the last added among equals, as HF's sorted(...).pop()).
  const Hypothesis& best() const;

 private:
  int64_t num_beams_;
  double length_penalty_;
  EarlyStopping early_stopping_;
  int64_t max_length_;
  std::vector<Hypothesis> beams_;
  double worst_score_ = 1e9;
};

GenerationOutput beam_search(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                             const GenerationConfig& config, const ForwardFn& forward = {});

}  // namespace models::generation
