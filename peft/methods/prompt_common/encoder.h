// The prompt encoders of the prompt-learning methods, named as PEFT names them in memory
// (`prompt_encoder.<adapter>.embedding.weight`, `.mlp_head.0.weight`, `.transform.2.bias`):
// a table of virtual-token embeddings, optionally followed by a reparameterisation (P-tuning's
// MLP / LSTM, prefix tuning's projection). Only the output for ids 0..rows-1 is ever used, so
// an encoder is evaluated once per forward on the whole table (PEFT evaluates it per batch row
// on identical ids: the same values, and the same gradients summed over rows).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/nn/module.h"

namespace peft::prompt {

using engine::Tensor;

// PEFT's PromptEmbedding: a plain table (prompt tuning; any method's adapter loaded from a
// file, which holds the encoder's output). N(0, 1) init, as torch's nn.Embedding.
class PromptEncoder : public engine::nn::Module {
 public:
  PromptEncoder(int64_t rows, int64_t dim, engine::Generator& gen);
  std::string type_name() const override { return "PromptEmbedding"; }
  engine::nn::Embedding& embedding() const { return *child_as<engine::nn::Embedding>("embedding"); }
  int64_t rows() const { return embedding().num_embeddings(); }
  // The encoder's output for ids 0..rows-1: [rows, width].
  virtual Tensor table() const { return embedding().weight(); }
  // Whether table() is computed from the embedding (so a file, holding table(), cannot give
  // the trainable parameters back).
  virtual bool reparameterized() const { return false; }
};

// torch.nn.Sequential of Linear layers with one activation between them, at the Sequential's
// indices (Linear 0, act 1, Linear 2, ...): `sizes` = {in, hidden..., out}. Torch's default
// Linear init.
class MlpHead : public engine::nn::Module {
 public:
  MlpHead(const std::vector<int64_t>& sizes, std::string activation, engine::Generator& gen);
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) const;  // [..., in] -> [..., out]

 private:
  int64_t linears_;
  std::string activation_;
};

}  // namespace peft::prompt
