// Pretraining a small BERT, GPT-2 or T5 from scratch on a text corpus (a file, or the
// repository's generated corpus, app/corpus/grammar.h), with the architecture's own objective
// (objectives.h), through the training loop (trainer.h). The result is an HF checkpoint folder:
// config.json + model.safetensors + the tokenizer's files, loadable by models::load_pretrained
// and load_tokenizer (and by transformers).
//
// Tokenizers, when none is given: GPT-2 gets a byte-level BPE; BERT a WordPiece; T5 a
// byte-level BPE with T5's special tokens (<pad>, </s>, <unk>, <extra_id_0..99>) in place of
// SentencePiece (the tokenizer trainers have no Unigram trainer). It is saved as a GPT-2 style
// vocab.json + merges.txt with those tokens, and config.json carries their ids (pad_token_id,
// eos_token_id, decoder_start_token_id = pad), so the model and the tokenizer agree.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/train/options.h"
#include "app/train/trainer.h"
#include "models/model.h"
#include "models/tokenizers/tokenizer.h"

namespace app::train {

struct PretrainOptions {
  std::string arch = "gpt2";         // gpt2 | bert | t5
  std::string corpus;                // a text file (documents = paragraphs), or
  bool generated = false;            // the repository's corpus
  size_t generated_documents = 36000;  // ~1.9M tokens: one epoch of the default GPT-2 is ~2-3 min on 2 cores
  uint64_t corpus_seed = 0;
  std::string tokenizer;             // a folder with tokenizer files, or "" to train one
  size_t vocab_size = 2000;
  int64_t layers = 4, hidden = 128, heads = 4, ffn = 0, context = 128;  // ffn 0: 4 * hidden
  double dropout = 0.0;
  std::string config;                // a config.json that replaces the size flags
  double eval_fraction = 0.02;       // blocks held out for eval_loss
  std::string out;                   // the HF checkpoint folder
  TrainOptions train;                // train.output_dir defaults to <out>/training
};

struct PretrainResult {
  TrainResult train;
  int64_t parameters = 0;
  size_t train_blocks = 0, eval_blocks = 0;
  std::filesystem::path folder;
  models::ModelPtr model;  // the trained model (as saved in `folder`)
};

// The corpus' documents: the file's paragraphs, or the generated corpus.
std::vector<std::string> pretrain_documents(const PretrainOptions& options);
// The tokenizer given, or one trained on the documents for the architecture (see above).
std::unique_ptr<models::Tokenizer> pretrain_tokenizer(const PretrainOptions& options,
                                                      const std::vector<std::string>& documents);
// config.json for the architecture from the size flags (or options.config), with the
// tokenizer's vocabulary size and special-token ids.
nlohmann::json pretrain_model_config(const PretrainOptions& options, const models::Tokenizer& tok);

PretrainResult run_pretrain(const PretrainOptions& options);

}  // namespace app::train
