// Beam search (see beam_search.h); transformers 4.33 GenerationMixin.beam_search and
// BeamSearchScorer.process / finalize, one batch item at a time on the host.
#include "models/generation/beam_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>

#include "engine/core/error.h"
#include "models/generation/incremental_decoder.h"
#include "models/generation/logits_process.h"

namespace models::generation {

void BeamHypotheses::add(std::vector<int64_t> tokens, double sum_logprobs, int64_t length, bool ended_with_eos) {
  const double score = sum_logprobs / std::pow(double(length), length_penalty_);
  if (size() >= num_beams_ && score <= worst_score_) return;
  beams_.push_back({score, std::move(tokens), ended_with_eos});
  if (size() > num_beams_) {
    // Evict the worst (lowest score, earliest among equals); the next lowest becomes the bar.
    std::vector<size_t> order(beams_.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return beams_[a].score < beams_[b].score; });
    worst_score_ = beams_[order[1]].score;
    beams_.erase(beams_.begin() + int64_t(order[0]));
  } else {
    worst_score_ = std::min(score, worst_score_);
  }
}

bool BeamHypotheses::is_done(double best_sum_logprobs, int64_t cur_len) const {
  if (size() < num_beams_) return false;
  if (early_stopping_ == EarlyStopping::kTrue) return true;
  // "never" with a positive penalty: the best score a running beam could reach at max_length.
  const bool at_max = early_stopping_ == EarlyStopping::kNever && length_penalty_ > 0;
  const double highest = best_sum_logprobs / std::pow(double(at_max ? max_length_ : cur_len), length_penalty_);
  return worst_score_ >= highest;
}

const BeamHypotheses::Hypothesis& BeamHypotheses::best() const {
  engine::check<engine::ValueError>(!beams_.empty(), "[beam_search] no finished hypothesis");
  size_t best = 0;
  for (size_t i = 1; i < beams_.size(); ++i)
    if (beams_[i].score >= beams_[best].score) best = i;
  return beams_[best];
}

namespace {

struct Candidate {
  float score;
  int64_t flat;  // beam * V + token
};

// The 2·num_beams best (beam, token) pairs of one batch item, best first (torch.topk on
// [nb·V]; equal scores in index order).
std::vector<Candidate> top_candidates(const std::vector<float>& scores, int64_t item, int64_t nb, int64_t V) {
  const std::span<const float> row(scores.data() + item * nb * V, size_t(nb * V));
  std::vector<int64_t> idx(row.size());
  std::iota(idx.begin(), idx.end(), 0);
  const int64_t k = std::min<int64_t>(2 * nb, int64_t(row.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
    return row[size_t(a)] > row[size_t(b)] || (row[size_t(a)] == row[size_t(b)] && a < b);
  });
  std::vector<Candidate> out;
  for (int64_t i = 0; i < k; ++i) out.push_back({row[size_t(idx[size_t(i)])], idx[size_t(i)]});
  return out;
}

bool is_eos(const GenerationConfig& c, int64_t token) {
  return std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), token) != c.eos_token_ids.end();
}

// The running beams of the whole batch: row b*nb + j holds beam j of item b.
struct Beams {
  std::vector<float> scores;
  std::vector<std::vector<int64_t>> tokens;  // generated so far
};

}  // namespace

GenerationOutput beam_search(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts,
                             const GenerationConfig& config, const ForwardFn& forward) {
  const int64_t nb = config.num_beams, B = int64_t(prompts.size()), N = B * nb;
  std::vector<std::vector<int64_t>> expanded;  // each prompt once per beam
  for (const auto& p : prompts) expanded.insert(expanded.end(), size_t(nb), p);
  IncrementalDecoder decoder(model, expanded, config.pad_id(), config.decoder_start_token_id.value_or(config.pad_id()),
                             forward);

  Beams beams{std::vector<float>(size_t(N), 0.0f), std::vector<std::vector<int64_t>>(size_t(N))};
  for (int64_t r = 0; r < N; ++r)
    if (r % nb != 0) beams.scores[size_t(r)] = -1e9f;  // only beam 0 starts alive: no duplicates
  std::vector<BeamHypotheses> hyps;
  std::vector<bool> done(size_t(B), false);
  std::vector<int64_t> fed;  // the tokens chosen last step, one per row
  int64_t max_length = 0;
  while (true) {
    std::vector<float> scores = decoder.next_logits(fed);  // [N,V]
    const int64_t V = decoder.vocab_size(), cur_len = decoder.current_length();
    if (hyps.empty()) {
      max_length = cur_len + config.max_new_tokens;
      hyps.assign(size_t(B), BeamHypotheses(nb, config.length_penalty, config.early_stopping, max_length));
    }
    for (int64_t r = 0; r < N; ++r) {
      std::span<float> row(scores.data() + r * V, size_t(V));
      log_softmax(row);
      for (float& s : row) s += beams.scores[size_t(r)];
    }
    Beams next;
    std::vector<int64_t> source;  // the row each next beam continues
    fed.clear();
    for (int64_t b = 0; b < B; ++b) {
      if (done[size_t(b)]) {  // a finished item keeps dummy beams fed with pad
        for (int64_t j = 0; j < nb; ++j) {
          next.scores.push_back(0.0f), source.push_back(b * nb + j), fed.push_back(config.pad_id());
        }
        continue;
      }
      const std::vector<Candidate> cands = top_candidates(scores, b, nb, V);
      int64_t kept = 0;
      for (size_t rank = 0; rank < cands.size() && kept < nb; ++rank) {
        const int64_t row = b * nb + cands[rank].flat / V, token = cands[rank].flat % V;
        if (is_eos(config, token)) {
          if (int64_t(rank) < nb)  // an eos outside the top num_beams is not a hypothesis
            hyps[size_t(b)].add(beams.tokens[size_t(row)], cands[rank].score, cur_len, true);
          continue;
        }
        next.scores.push_back(cands[rank].score), source.push_back(row), fed.push_back(token);
        ++kept;
      }
      engine::check<engine::ValueError>(kept == nb, "[beam_search] only ", kept, " of ", nb,
                                        " beams continue: too many eos candidates for the vocabulary");
      done[size_t(b)] = hyps[size_t(b)].is_done(cands.front().score, cur_len);
    }
    for (size_t i = 0; i < source.size(); ++i) {
      next.tokens.push_back(beams.tokens[size_t(source[i])]);
      next.tokens.back().push_back(fed[i]);
    }
    beams = std::move(next);
    decoder.reorder(source);
    const bool all_done = std::all_of(done.begin(), done.end(), [](bool d) { return d; });
    if (all_done || cur_len + 1 >= max_length) break;
  }
  // finalize: items still running add their beams at the final length.
  const int64_t final_len = decoder.current_length() + 1;
  GenerationOutput out;
  for (int64_t b = 0; b < B; ++b) {
    if (!done[size_t(b)])
      for (int64_t j = 0; j < nb; ++j)
        hyps[size_t(b)].add(beams.tokens[size_t(b * nb + j)], beams.scores[size_t(b * nb + j)], final_len, false);
    const BeamHypotheses::Hypothesis& best = hyps[size_t(b)].best();
    out.tokens.push_back(best.tokens);
    if (best.ended_with_eos) out.tokens.back().push_back(config.eos_token_ids.front());
    out.scores.push_back(best.score);
  }
  return out;
}

}  // namespace models::generation
