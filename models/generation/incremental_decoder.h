// Runs a PretrainedModel one token at a time with a KV cache, for decoder-only models
// (GPT-2: left-padded prompts, positions counted over real tokens) and encoder-decoder
// models (T5: the encoder runs once, the decoder starts from decoder_start_token_id).
// Generation strategies (greedy, sampling, beam search) only see next-token logits.
#pragma once
#include <vector>

#include "models/generation/generate.h"
#include "models/model.h"

namespace models::generation {

class IncrementalDecoder {
 public:
  // prompts: token ids per row (no padding). pad_id fills the left padding of decoder-only
  // batches; start_id is the decoder's first token (encoder-decoder only). `forward` replaces
  // model.forward when given (PEFT's prompt methods).
  IncrementalDecoder(PretrainedModel& model, const std::vector<std::vector<int64_t>>& prompts, int64_t pad_id,
                     int64_t start_id, ForwardFn forward = {});

  // Next-token logits [rows, V] (f32, row-major): the first call runs the prompts, each later
  // call feeds `tokens` (one per row, the previous choice) through the cache.
  std::vector<float> next_logits(const std::vector<int64_t>& tokens = {});
  // Greedy search's choice for the same step: the argmax of each row's logits, computed where
  // the model is, so a model on a GPU copies back N token ids per step instead of N×V logits.
  std::vector<int64_t> next_argmax(const std::vector<int64_t>& tokens = {});
  bool on_host() const { return device_.is_cpu(); }
  // Beam search: row r of the state becomes old row rows[r] (cache, masks, encoder output).
  void reorder(const std::vector<int64_t>& rows);

  int64_t rows() const { return rows_; }
  int64_t vocab_size() const { return vocab_; }
  // Tokens HF counts as the current length: padded prompt + generated (decoder-only) or
  // start token + generated (encoder-decoder).
  int64_t current_length() const { return length_; }

 private:
  Tensor step(const std::vector<int64_t>& tokens);  // the last position's logits [N,V], on the device
  Tensor first_step();
  Tensor last_position_logits(const ModelOutput& out);
  ModelOutput run(const Batch& batch, const ForwardOptions& options);

  PretrainedModel& model_;
  ForwardFn forward_;
  engine::Device device_;  // the model's: ids, masks, positions and the cache live there
  bool encoder_decoder_;
  int64_t rows_, vocab_, length_ = 0;
  std::vector<std::vector<int64_t>> prompts_;
  int64_t pad_id_, start_id_;
  KVCache cache_;
  Tensor attention_mask_;  // decoder-only: [N, prompt + generated]; encoder-decoder: encoder mask [N,S]
  std::vector<int64_t> last_position_;  // decoder-only: each row's last position id
  Tensor encoder_output_;  // encoder-decoder: [N,S,D]
};

}  // namespace models::generation
