// Pretraining pipeline: corpus -> tokenizer -> blocks -> objective -> trainer -> HF folder
// (see pretrain.h).
#include "app/train/pretrain.h"

#include <fstream>

#include "app/corpus/grammar.h"
#include "app/corpus/text_corpus.h"
#include "app/data/shuffle.h"
#include "app/train/checkpoint.h"
#include "app/train/objectives.h"
#include "app/train/target.h"
#include "engine/core/error.h"
#include "models/loading/checkpoint.h"
#include "models/tokenizers/train/train.h"

namespace app::train {
namespace {

namespace fs = std::filesystem;
using models::Tokenizer;

int64_t token_id(const Tokenizer& tok, const std::string& token) {
  const auto id = tok.token_to_id(token);
  engine::check<engine::KeyError>(id.has_value(), "[pretrain] the tokenizer has no token '", token, "'");
  return *id;
}

int64_t role(std::optional<int64_t> id, const char* what, const std::string& arch) {
  engine::check<engine::KeyError>(id.has_value(), "[pretrain] ", arch, " needs a tokenizer with a ", what, " token");
  return *id;
}

std::vector<std::string> t5_sentinels() {
  std::vector<std::string> s;
  for (int i = 0; i < 100; ++i) s.push_back("<extra_id_" + std::to_string(i) + ">");
  return s;
}

// A byte-level BPE with T5's special tokens in their roles (see pretrain.h).
std::unique_ptr<Tokenizer> train_t5_bpe(const std::vector<std::string>& docs, models::train::TrainOptions o) {
  o.additional_special_tokens = {"<pad>", "</s>", "<unk>"};
  for (const std::string& s : t5_sentinels()) o.additional_special_tokens.push_back(s);
  auto trained = models::train::train_bpe(docs, o);
  std::vector<std::string> vocab;
  for (int64_t i = 0; i < trained.tokenizer->vocab_size(); ++i) vocab.push_back(trained.tokenizer->id_to_token(i));
  models::BpeTokenizer::Options options;
  options.special = {"<pad>", "</s>", "", "<unk>", "", "", "", t5_sentinels()};
  return std::make_unique<models::BpeTokenizer>(vocab, trained.tokenizer->merges(), options);
}

struct Objective {
  Dataset train, eval;
};

Objective make_objective(const PretrainOptions& o, const Tokenizer& tok, std::vector<TokenBlock> blocks,
                         PretrainResult& r) {
  auto [train_blocks, eval_blocks] = data::split_train_heldout(std::move(blocks), o.eval_fraction, o.train.seed);
  engine::check<engine::ValueError>(!train_blocks.empty(), "[pretrain] no training blocks left after holding out ",
                                    eval_blocks.size(), " for evaluation");
  r.train_blocks = train_blocks.size(), r.eval_blocks = eval_blocks.size();
  auto tr = std::make_shared<const std::vector<TokenBlock>>(std::move(train_blocks));
  auto ev = std::make_shared<const std::vector<TokenBlock>>(std::move(eval_blocks));
  if (o.arch == "gpt2") {
    const int64_t eos = role(tok.eos_id(), "eos", o.arch);
    return {causal_lm_dataset(tr, eos), causal_lm_dataset(ev, eos)};
  }
  if (o.arch == "bert") {
    MlmOptions m;
    m.mask_id = role(tok.mask_id(), "mask", o.arch), m.vocab_size = tok.vocab_size();
    const int64_t cls = role(tok.cls_id(), "cls", o.arch), sep = role(tok.sep_id(), "sep", o.arch);
    const int64_t pad = role(tok.pad_id(), "pad", o.arch);
    m.special_ids = {cls, sep, pad};
    return {masked_lm_dataset(tr, cls, sep, pad, m), masked_lm_dataset(ev, cls, sep, pad, m)};
  }
  SpanOptions s;
  s.eos_id = role(tok.eos_id(), "eos", o.arch);
  for (const std::string& t : t5_sentinels()) s.sentinel_ids.push_back(token_id(tok, t));
  const int64_t pad = role(tok.pad_id(), "pad", o.arch);
  return {span_corruption_dataset(tr, pad, s), span_corruption_dataset(ev, pad, s)};
}

// A config.json file, or the config.json of a checkpoint folder.
nlohmann::json read_json_file(const fs::path& path) {
  if (fs::is_directory(path)) return models::read_config(path);
  std::ifstream in(path);
  engine::check<engine::IOError>(in.good(), "[pretrain] cannot read --config ", path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>("[pretrain] ", path.string(), ": ", e.what());
  }
}

// The separator between documents in the token stream.
int64_t document_separator(const std::string& arch, const Tokenizer& tok) {
  return arch == "bert" ? role(tok.sep_id(), "sep", arch) : role(tok.eos_id(), "eos", arch);
}

// Tokens per block: --context (BERT's blocks leave room for [CLS] and [SEP]).
size_t block_length(const PretrainOptions& o) {
  engine::check<engine::ConfigError>(o.context > (o.arch == "bert" ? 2 : 1), "[pretrain] --context too small: ",
                                     o.context);
  return size_t(o.arch == "bert" ? o.context - 2 : o.context);
}

}  // namespace

std::vector<std::string> pretrain_documents(const PretrainOptions& o) {
  engine::check<engine::ValueError>(o.generated != !o.corpus.empty(),
                                    "[pretrain] give exactly one of --corpus FILE and --generated");
  if (!o.generated) return corpus::read_documents(o.corpus, corpus::DocumentSplit::paragraphs);
  corpus::PretrainCorpusOptions c;
  c.documents = o.generated_documents, c.seed = o.corpus_seed;
  return corpus::generate_documents(c);
}

std::unique_ptr<Tokenizer> pretrain_tokenizer(const PretrainOptions& o, const std::vector<std::string>& docs) {
  if (!o.tokenizer.empty()) return models::load_tokenizer(o.tokenizer);
  models::train::TrainOptions t;
  t.vocab_size = o.vocab_size;
  if (o.arch == "gpt2") return std::move(models::train::train_bpe(docs, t).tokenizer);
  if (o.arch == "bert") return std::move(models::train::train_wordpiece(docs, t).tokenizer);
  return train_t5_bpe(docs, t);
}

nlohmann::json pretrain_model_config(const PretrainOptions& o, const Tokenizer& tok) {
  const int64_t V = tok.vocab_size(), h = o.hidden, L = o.layers, H = o.heads;
  const int64_t ffn = o.ffn > 0 ? o.ffn : 4 * h;
  nlohmann::json c;
  if (!o.config.empty()) {
    c = read_json_file(o.config);
    engine::check<engine::ConfigError>(c.is_object() && c.value("model_type", o.arch) == o.arch, "[pretrain] ",
                                       o.config, ": model_type must be \"", o.arch, "\" for --arch ", o.arch);
  } else if (o.arch == "gpt2") {
    c = {{"model_type", "gpt2"}, {"n_positions", o.context}, {"n_ctx", o.context}, {"n_embd", h},
         {"n_layer", L}, {"n_head", H}, {"n_inner", ffn}, {"activation_function", "gelu_new"},
         {"resid_pdrop", o.dropout}, {"embd_pdrop", o.dropout}, {"attn_pdrop", o.dropout}};
  } else if (o.arch == "bert") {
    c = {{"model_type", "bert"}, {"hidden_size", h}, {"num_hidden_layers", L}, {"num_attention_heads", H},
         {"intermediate_size", ffn}, {"max_position_embeddings", o.context}, {"type_vocab_size", 2},
         {"hidden_dropout_prob", o.dropout}, {"attention_probs_dropout_prob", o.dropout}, {"hidden_act", "gelu"}};
  } else {
    c = {{"model_type", "t5"}, {"d_model", h}, {"d_kv", h / H}, {"d_ff", ffn}, {"num_layers", L},
         {"num_decoder_layers", L}, {"num_heads", H}, {"relative_attention_num_buckets", 32},
         {"relative_attention_max_distance", 128}, {"dropout_rate", o.dropout}, {"feed_forward_proj", "relu"},
         {"tie_word_embeddings", true}, {"is_encoder_decoder", true}};
  }
  static const std::map<std::string, std::string> heads = {
      {"gpt2", "GPT2LMHeadModel"}, {"bert", "BertForMaskedLM"}, {"t5", "T5ForConditionalGeneration"}};
  c["architectures"] = {heads.at(o.arch)};
  if (!c.contains("vocab_size") || c["vocab_size"].get<int64_t>() < V) c["vocab_size"] = V;
  if (o.arch == "gpt2") c["bos_token_id"] = c["eos_token_id"] = role(tok.eos_id(), "eos", o.arch);
  if (o.arch == "bert") c["pad_token_id"] = role(tok.pad_id(), "pad", o.arch);
  if (o.arch == "t5") {
    c["pad_token_id"] = c["decoder_start_token_id"] = role(tok.pad_id(), "pad", o.arch);
    c["eos_token_id"] = role(tok.eos_id(), "eos", o.arch);
  }
  return c;
}

PretrainResult run_pretrain(const PretrainOptions& options) {
  PretrainOptions o = options;
  engine::check<engine::ConfigError>(o.arch == "gpt2" || o.arch == "bert" || o.arch == "t5",
                                     "[pretrain] --arch must be gpt2, bert or t5, got '", o.arch, "'");
  engine::check<engine::ConfigError>(!o.out.empty(), "[pretrain] an output folder is required");
  if (o.train.output_dir.empty()) o.train.output_dir = (fs::path(o.out) / "training").string();
  o.train.validate();
  PretrainResult r;
  r.folder = o.out;

  const std::vector<std::string> docs = pretrain_documents(o);
  // A resumed run reuses the tokenizer it saved (training one is deterministic, but slower).
  const bool resuming = o.train.resume && !readable_folder(fs::path(o.train.output_dir) / "checkpoint").empty();
  std::unique_ptr<Tokenizer> tok =
      resuming && o.tokenizer.empty() ? models::load_tokenizer(o.out) : pretrain_tokenizer(o, docs);
  models::train::save_atomically(*tok, o.out);

  const nlohmann::json config = pretrain_model_config(o, *tok);
  models::ModelPtr model = models::create_model(config, config["architectures"][0], o.train.seed);
  r.parameters = model->num_parameters();
  r.model = model;
  Objective data = make_objective(o, *tok, token_blocks(*tok, docs, block_length(o), document_separator(o.arch, *tok)), r);

  FullFineTune target(model);
  Evaluator eval = r.eval_blocks > 0 ? loss_evaluator(data.eval, o.train.batch_size) : Evaluator{};
  if (!eval) o.train.eval_every = 0;
  r.train = train(target, data.train, o.train, eval);
  if (!r.train.interrupted) models::save_pretrained(*model, o.out);
  return r;
}

}  // namespace app::train
