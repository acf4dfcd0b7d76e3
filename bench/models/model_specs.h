// The three benchmark models (BERT-base, GPT-2 small, T5-small) as bench_models.cpp builds
// them: HF config, batch shape, the head that trains in the frozen-base mode, a random batch,
// and the model-FLOP formulas MFU is computed from. Mirrors bench/pytorch/models.py.
//
// Model FLOPs (what the math needs, not what a kernel happens to run; N = B·T tokens):
//   forward  F = Σ over GEMM weights 2·rows·in·out  +  Σ over attention layers 4·B·Tq·Tk·(H·d)
//            (QKᵀ and PV; causal attention is counted in full, as PaLM's 6N + 12·L·H·Q·T does)
//   full     3F       (backward = dX + dW for every GEMM, 2F)
//   head     F + the head's backward: BERT classifier dW (2·B·C·labels); GPT-2 and T5 the
//            tied LM head's dX (2·N·C·V, its weight is frozen) -- nothing below the head
//   forward  F
// Embedding lookups, norms, activations and the optimizer are not counted.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "models/model.h"

namespace bench_models {

struct ModelSpec {
  std::string name;          // "bert", "gpt2", "t5"
  std::string architecture;  // HF class name
  nlohmann::json config;
  int64_t batch, seq;
  std::string head_regex;  // parameters that train in the "head" mode
};

inline ModelSpec model_spec(const std::string& name) {
  using nlohmann::json;
  if (name == "bert")
    return {name, "BertForSequenceClassification",
            json{{"model_type", "bert"}, {"vocab_size", 30522}, {"hidden_size", 768}, {"num_hidden_layers", 12},
                 {"num_attention_heads", 12}, {"intermediate_size", 3072}, {"hidden_act", "gelu"},
                 {"hidden_dropout_prob", 0.1}, {"attention_probs_dropout_prob", 0.1},
                 {"max_position_embeddings", 512}, {"type_vocab_size", 2}, {"layer_norm_eps", 1e-12},
                 {"num_labels", 2}},
            8, 128, "^classifier\\."};
  if (name == "gpt2")
    return {name, "GPT2LMHeadModel",
            json{{"model_type", "gpt2"}, {"vocab_size", 50257}, {"n_positions", 1024}, {"n_embd", 768},
                 {"n_layer", 12}, {"n_head", 12}, {"activation_function", "gelu_new"}, {"resid_pdrop", 0.1},
                 {"embd_pdrop", 0.1}, {"attn_pdrop", 0.1}, {"layer_norm_epsilon", 1e-5}},
            4, 256, "^transformer\\.ln_f\\."};  // lm_head is tied to wte: it stays frozen
  if (name == "t5")
    return {name, "T5ForConditionalGeneration",
            json{{"model_type", "t5"}, {"vocab_size", 32128}, {"d_model", 512}, {"d_kv", 64}, {"d_ff", 2048},
                 {"num_layers", 6}, {"num_decoder_layers", 6}, {"num_heads", 8},
                 {"relative_attention_num_buckets", 32}, {"relative_attention_max_distance", 128},
                 {"dropout_rate", 0.1}, {"layer_norm_epsilon", 1e-6}, {"feed_forward_proj", "relu"},
                 {"decoder_start_token_id", 0}, {"pad_token_id", 0}, {"eos_token_id", 1}},
            8, 128, "^decoder\\.final_layer_norm\\."};  // lm_head is tied to shared: frozen
  engine::fail<engine::ValueError>("[bench_models] unknown model \"", name, "\" (bert, gpt2, t5)");
}

inline engine::Tensor random_ids(int64_t b, int64_t t, int64_t high, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> dist(0, high - 1);
  std::vector<int64_t> ids(size_t(b * t));
  for (auto& id : ids) id = dist(rng);
  return engine::from_vector(ids, {b, t});
}

// Random token ids, an all-ones attention mask and labels (BERT: a class per sequence; GPT-2:
// the LM targets; T5: target ids, the decoder input is their right shift).
inline models::Batch make_batch(const ModelSpec& s) {
  std::mt19937_64 rng(1);
  const int64_t vocab = s.config["vocab_size"].get<int64_t>();
  models::Batch batch;
  batch.input_ids = random_ids(s.batch, s.seq, vocab, rng);                                  // [B,T]
  batch.attention_mask = engine::from_vector(std::vector<int64_t>(size_t(s.batch * s.seq), 1), {s.batch, s.seq});
  if (s.name == "bert") {
    batch.token_type_ids = engine::from_vector(std::vector<int64_t>(size_t(s.batch * s.seq), 0), {s.batch, s.seq});
    batch.labels = random_ids(s.batch, 1, 2, rng).reshape({s.batch});                      // [B]
  } else {
    batch.labels = random_ids(s.batch, s.seq, vocab, rng);                                 // [B,T]
  }
  return batch;
}

// Forward model FLOPs of one batch (see the header comment).
inline double forward_flops(const ModelSpec& s) {
  const auto& c = s.config;
  const double B = double(s.batch), T = double(s.seq), N = B * T;
  if (s.name == "bert") {
    const double C = c["hidden_size"], F = c["intermediate_size"], L = c["num_hidden_layers"];
    const double gemm = 2 * N * L * (4 * C * C + 2 * C * F) + 2 * B * (C * C + C * double(c["num_labels"]));
    return gemm + L * 4 * B * T * T * C;
  }
  if (s.name == "gpt2") {
    const double C = c["n_embd"], L = c["n_layer"], V = c["vocab_size"];
    return 2 * N * (L * (3 * C * C + C * C + 8 * C * C) + C * V) + L * 4 * B * T * T * C;
  }
  const double C = c["d_model"], I = double(c["num_heads"]) * double(c["d_kv"]), F = c["d_ff"];
  const double Le = c["num_layers"], Ld = c["num_decoder_layers"], V = c["vocab_size"];
  // Encoder and decoder both see N tokens (source and target length are both T).
  const double gemm = 2 * N * (Le * (4 * C * I + 2 * C * F) + Ld * (8 * C * I + 2 * C * F) + C * V);
  return gemm + (Le + 2 * Ld) * 4 * B * T * T * I;
}

// Model FLOPs of one step of `mode` ("full", "head", "forward").
inline double step_flops(const ModelSpec& s, const std::string& mode) {
  const double f = forward_flops(s);
  if (mode == "full") return 3 * f;
  if (mode == "forward") return f;
  const auto& c = s.config;
  const double N = double(s.batch * s.seq);
  if (s.name == "bert") return f + 2 * double(s.batch) * double(c["hidden_size"]) * double(c["num_labels"]);
  const double C = s.name == "gpt2" ? double(c["n_embd"]) : double(c["d_model"]);
  return f + 2 * N * C * double(c["vocab_size"]);
}

}  // namespace bench_models
