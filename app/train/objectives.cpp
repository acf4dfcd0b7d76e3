// Pretraining blocks and corruption (see objectives.h).
#include "app/train/objectives.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace app::train {
namespace {

// `total` split into `parts` positive lengths at random (HF's _random_segmentation).
std::vector<size_t> random_segmentation(size_t total, size_t parts, data::SplitMix64& rng) {
  // Choose parts-1 distinct cut points among 1..total-1.
  std::vector<size_t> points(total - 1);
  for (size_t i = 0; i < points.size(); ++i) points[i] = i + 1;
  for (size_t i = 0; i + 1 < parts; ++i) std::swap(points[i], points[i + rng.below(points.size() - i)]);
  std::vector<size_t> cuts(points.begin(), points.begin() + long(parts - 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<size_t> lengths;
  size_t prev = 0;
  for (size_t c : cuts) lengths.push_back(c - prev), prev = c;
  lengths.push_back(total - prev);
  return lengths;
}

template <typename Make>
Dataset blocks_dataset(std::shared_ptr<const std::vector<TokenBlock>> blocks, TaskKind kind, int64_t pad_id,
                       Make make) {
  Dataset d;
  d.size = blocks->size();
  d.collate = [blocks, kind, pad_id, make](std::span<const size_t> indices, uint64_t seed) {
    data::SplitMix64 rng(seed);
    std::vector<Features> rows;
    for (size_t i : indices) rows.push_back(make((*blocks)[i], rng));
    std::vector<const Features*> ptrs;
    for (const Features& f : rows) ptrs.push_back(&f);
    return collate(ptrs, kind, pad_id);
  };
  return d;
}

}  // namespace

std::vector<TokenBlock> token_blocks(const models::Tokenizer& tok, const std::vector<std::string>& documents,
                                     size_t block_length, int64_t separator) {
  engine::check<engine::ValueError>(block_length > 0, "[pretrain] block length must be positive");
  std::vector<int64_t> stream;
  for (const std::string& doc : documents) {
    const std::vector<int64_t> ids = tok.encode(doc, false).ids;
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (separator >= 0) stream.push_back(separator);
  }
  engine::check<engine::ValueError>(stream.size() >= block_length, "[pretrain] the corpus has ", stream.size(),
                                    " tokens, fewer than one block of ", block_length);
  std::vector<TokenBlock> blocks;
  for (size_t s = 0; s + block_length <= stream.size(); s += block_length)
    blocks.emplace_back(stream.begin() + long(s), stream.begin() + long(s + block_length));
  return blocks;
}

std::vector<int64_t> mask_tokens(std::vector<int64_t>& ids, const MlmOptions& o, data::SplitMix64& rng) {
  std::vector<int64_t> labels(ids.size(), kIgnoreIndex);
  // Probabilities as integer thresholds out of 2^20: exact and the same everywhere.
  constexpr uint64_t kScale = 1u << 20;
  const uint64_t choose = uint64_t(std::llround(o.probability * double(kScale)));
  for (size_t i = 0; i < ids.size(); ++i) {
    const bool special = std::find(o.special_ids.begin(), o.special_ids.end(), ids[i]) != o.special_ids.end();
    if (special || rng.below(kScale) >= choose) continue;
    labels[i] = ids[i];
    const uint64_t r = rng.below(10);  // 80% [MASK], 10% random, 10% unchanged
    if (r < 8) ids[i] = o.mask_id;
    else if (r == 8) ids[i] = int64_t(rng.below(uint64_t(o.vocab_size)));
  }
  return labels;
}

std::vector<bool> random_spans_noise_mask(size_t n, const SpanOptions& o, data::SplitMix64& rng) {
  engine::check<engine::ValueError>(n >= 2, "[pretrain] span corruption needs at least 2 tokens, got ", n);
  size_t noise = std::clamp<size_t>(size_t(std::llround(double(n) * o.noise_density)), 1, n - 1);
  size_t spans = std::max<size_t>(1, size_t(std::llround(double(noise) / o.mean_span_length)));
  spans = std::min({spans, noise, n - noise, o.sentinel_ids.size()});
  const std::vector<size_t> noise_len = random_segmentation(noise, spans, rng);
  const std::vector<size_t> keep_len = random_segmentation(n - noise, spans, rng);
  std::vector<bool> mask;
  for (size_t s = 0; s < spans; ++s) {
    mask.insert(mask.end(), keep_len[s], false);
    mask.insert(mask.end(), noise_len[s], true);
  }
  return mask;
}

Features span_corrupt(const TokenBlock& tokens, const SpanOptions& o, data::SplitMix64& rng) {
  engine::check<engine::ValueError>(!o.sentinel_ids.empty(), "[pretrain] span corruption needs sentinel tokens");
  const std::vector<bool> noise = random_spans_noise_mask(tokens.size(), o, rng);
  Features f;
  size_t span = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool starts = noise[i] && (i == 0 || !noise[i - 1]);
    if (starts) {
      f.input_ids.push_back(o.sentinel_ids[span]);
      f.labels.push_back(o.sentinel_ids[span]);
      ++span;
    }
    (noise[i] ? f.labels : f.input_ids).push_back(tokens[i]);
  }
  f.input_ids.push_back(o.eos_id);
  f.labels.push_back(o.eos_id);
  return f;
}

Dataset causal_lm_dataset(std::shared_ptr<const std::vector<TokenBlock>> blocks, int64_t pad_id) {
  return blocks_dataset(blocks, TaskKind::causal_lm, pad_id, [](const TokenBlock& b, data::SplitMix64&) {
    return Features{b, b, {}, -1};
  });
}

Dataset masked_lm_dataset(std::shared_ptr<const std::vector<TokenBlock>> blocks, int64_t cls_id, int64_t sep_id,
                          int64_t pad_id, MlmOptions options) {
  return blocks_dataset(blocks, TaskKind::masked_lm, pad_id, [=](const TokenBlock& b, data::SplitMix64& rng) {
    Features f;
    f.input_ids.push_back(cls_id);
    f.input_ids.insert(f.input_ids.end(), b.begin(), b.end());
    f.input_ids.push_back(sep_id);
    f.labels = mask_tokens(f.input_ids, options, rng);
    return f;
  });
}

Dataset span_corruption_dataset(std::shared_ptr<const std::vector<TokenBlock>> blocks, int64_t pad_id,
                                SpanOptions options) {
  return blocks_dataset(blocks, TaskKind::seq2seq, pad_id,
                        [=](const TokenBlock& b, data::SplitMix64& rng) { return span_corrupt(b, options, rng); });
}

}  // namespace app::train
