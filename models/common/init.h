// Weight initialisation as HF's `_init_weights` for BERT-like models, and seeded dropout
// modules, shared by the model families.
#pragma once
#include <memory>

#include "engine/nn/layers.h"

namespace models::common {

// Overwrites `t` in place with normal(0, std) draws from the default generator (create_model
// seeds it), without autograd.
void normal_init(engine::Tensor& t, double std);

// HF PreTrainedModel._init_weights (modeling_bert.py): every Linear/Conv1D weight ~ N(0, std)
// with zero bias, every Embedding ~ N(0, std) with its padding row zeroed, every LayerNorm
// weight 1 and bias 0. Embeddings are drawn last so tied output layers keep their values.
void init_bert_like(engine::nn::Module& root, double std);

// A Dropout module with its own Philox stream; streams differ per module (a process-wide
// counter mixed into the seed) so two dropouts never draw the same mask.
std::shared_ptr<engine::nn::Dropout> make_dropout(double p);

}  // namespace models::common
