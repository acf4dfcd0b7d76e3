// Next-token score processing on one row of vocabulary scores, as HF's logits warpers
// (transformers 4.33 generation/logits_process.py): temperature, top-k and top-p filtering set
// removed entries to -inf; then argmax, log-softmax or a seeded categorical draw.
#pragma once
#include <cstdint>
#include <span>

#include "engine/core/tensor.h"

namespace models::generation {

// TemperatureLogitsWarper: scores / temperature.
void apply_temperature(std::span<float> scores, double temperature);
// TopKLogitsWarper: keeps every score >= the k-th largest (ties at the boundary survive);
// k <= 0 or k >= size keeps all.
void apply_top_k(std::span<float> scores, int64_t k);
// TopPLogitsWarper: sorts ascending, removes the tokens whose cumulative probability is
// <= 1 - top_p, always keeping the most likely token.
void apply_top_p(std::span<float> scores, double top_p);

// Index of the first maximum (torch.argmax).
int64_t argmax(std::span<const float> scores);
// In place: scores - logsumexp(scores).
void log_softmax(std::span<float> scores);
// A draw from softmax(scores) (torch.multinomial's distribution, not its random stream):
// one uniform from `gen`, inverse CDF in index order.
int64_t sample(std::span<const float> scores, engine::Generator& gen);

}  // namespace models::generation
