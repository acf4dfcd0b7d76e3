// T5Stack (transformers 4.33 modeling_t5.py): the encoder or the decoder — the shared token
// embedding (embed_tokens), the blocks, final_layer_norm and dropout. The relative position
// bias is computed once by block 0 and added in every block's self-attention.
#pragma once
#include <memory>
#include <vector>

#include "engine/nn/layers.h"
#include "models/model.h"
#include "models/t5/t5_config.h"

namespace models::t5 {

// What a stack call takes besides its input embeddings.
struct T5StackInputs {
  Tensor attention_mask;          // [B,T] or, decoder, [B,past+T] (peft prepends prefix ones)
  Tensor encoder_hidden_states;   // decoder: [B,S,D]
  Tensor encoder_attention_mask;  // decoder: [B,S] or undefined (all attended)
  const ForwardOptions* options = nullptr;  // decoder: prefix K/V and KV cache
};

class T5Stack : public engine::nn::Module {
 public:
  T5Stack(const T5Config& c, std::shared_ptr<engine::nn::Embedding> embed_tokens, bool is_decoder);
  std::string type_name() const override { return "T5Stack"; }
  Tensor embed(const Tensor& ids) const { return call("embed_tokens", ids); }  // [B,T] -> [B,T,D]
  // embeds [B,T,D] -> [B,T,D] after final_layer_norm. hidden_states (if non-null) gets HF's
  // list: the dropped-out embeddings, each block's output but the last, then the final output.
  Tensor forward(const Tensor& embeds, const T5StackInputs& in, std::vector<Tensor>* hidden_states) const;
  int64_t num_blocks() const { return num_blocks_; }

 private:
  bool is_decoder_;
  int64_t num_blocks_, num_heads_, d_kv_;
};

}  // namespace models::t5
