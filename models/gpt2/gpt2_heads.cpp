// GPT-2 task heads and the make_gpt2 factory (see gpt2_heads.h); transformers 4.33
// modeling_gpt2.py.
#include "models/gpt2/gpt2_heads.h"

#include <cmath>

#include "engine/engine.h"
#include "models/architectures.h"
#include "models/common/init.h"
#include "models/common/loss.h"

namespace models::gpt2 {
using engine::nn::Linear;

GPT2HeadModel::GPT2HeadModel(const GPT2Config& c, const nlohmann::json& config) : GPT2Base(c, config) {}

// Called from the concrete heads' constructors: Module::add_child names the parent's
// type_name() in its checks, which is pure virtual while GPT2HeadModel is being built.
void GPT2HeadModel::add_base() { register_module("transformer", std::make_shared<GPT2Model>(c_, config_)); }

GPT2Model& GPT2HeadModel::base() const { return *child_as<GPT2Model>("transformer"); }

ModelOutput GPT2HeadModel::run_base(const Batch& batch, const ForwardOptions& options) const {
  return base().run(batch, options, *this);
}

GPT2LMHeadModel::GPT2LMHeadModel(const GPT2Config& c, const nlohmann::json& config) : GPT2HeadModel(c, config) {
  add_base();
  register_module("lm_head", std::make_shared<Linear>(c.n_embd, c.vocab_size, /*bias=*/false));
  // HF ties lm_head to the input embedding (PreTrainedModel.tie_weights): one tensor.
  if (c.tie_word_embeddings) get("lm_head")->param("weight") = input_embeddings().weight();
}

ModelOutput GPT2LMHeadModel::forward(const Batch& batch, const ForwardOptions& options) {
  ModelOutput out = run_base(batch, options);
  out.logits = call("lm_head", out.last_hidden_state);  // [B,T,C] -> [B,T,V]
  if (batch.labels.defined()) {
    const int64_t T = out.logits.size(1);
    engine::check<engine::ShapeError>(batch.labels.dim() == 2 && batch.labels.size(1) == T, "[GPT2LMHeadModel] labels ",
                                      engine::shape_str(batch.labels.shape()), " do not match logits ",
                                      engine::shape_str(out.logits.shape()));
    // Token t predicts token t+1: logits[:, :-1] against labels[:, 1:].
    out.loss = common::token_cross_entropy(out.logits.narrow(1, 0, T - 1), batch.labels.narrow(1, 1, T - 1));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> GPT2LMHeadModel::tied_weights() const {
  if (!c_.tie_word_embeddings) return {};
  return {{"lm_head.weight", "transformer.wte.weight"}};
}

GPT2ForSequenceClassification::GPT2ForSequenceClassification(const GPT2Config& c, const nlohmann::json& config)
    : GPT2HeadModel(c, config) {
  add_base();
  register_module("score", std::make_shared<Linear>(c.n_embd, c.classification.num_labels, /*bias=*/false));
}

std::vector<int64_t> sequence_end_positions(const Tensor& input_ids, std::optional<int64_t> pad_token_id, int64_t T) {
  const int64_t B = input_ids.defined() ? input_ids.size(0) : 0;
  if (!input_ids.defined() || !pad_token_id) return std::vector<int64_t>(size_t(std::max<int64_t>(B, 1)), T - 1);
  const std::vector<int64_t> ids = input_ids.to_vector<int64_t>();
  const int64_t L = input_ids.size(1);
  std::vector<int64_t> pos(size_t(B), T - 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t)
      if (ids[size_t(b * L + t)] == *pad_token_id) {
        pos[size_t(b)] = t == 0 ? T - 1 : t - 1;  // argmax(eq) - 1; -1 indexes the last position
        break;
      }
  return pos;
}

ModelOutput GPT2ForSequenceClassification::forward(const Batch& batch, const ForwardOptions& options) {
  ModelOutput out = run_base(batch, options);
  Tensor logits = call("score", out.last_hidden_state);  // [B,T,C] -> [B,T,L]
  const int64_t B = logits.size(0), T = logits.size(1);
  // HF: "Cannot handle batch sizes > 1 if no padding token is defined."
  engine::check<engine::ValueError>(c_.pad_token_id.has_value() || B == 1,
                                    "[GPT2ForSequenceClassification] batches of more than one sequence need "
                                    "pad_token_id in config.json");
  const std::vector<int64_t> pos = sequence_end_positions(batch.input_ids, c_.pad_token_id, T);
  std::vector<Tensor> rows;
  for (int64_t b = 0; b < B; ++b) rows.push_back(logits.select(0, b).select(0, pos[size_t(b)]));  // [L]
  out.logits = engine::stack(rows, 0);  // [B,L]
  if (batch.labels.defined())
    out.loss = common::sequence_classification_loss(out.logits, batch.labels, c_.classification);
  return out;
}

}  // namespace models::gpt2

namespace models {

ModelPtr make_gpt2(const nlohmann::json& config, const std::string& architecture) {
  gpt2::GPT2Config c = gpt2::read_gpt2_config(config);
  ModelPtr model;
  if (architecture == "GPT2Model") model = std::make_shared<gpt2::GPT2Model>(c, config);
  else if (architecture == "GPT2LMHeadModel") model = std::make_shared<gpt2::GPT2LMHeadModel>(c, config);
  else if (architecture == "GPT2ForSequenceClassification")
    model = std::make_shared<gpt2::GPT2ForSequenceClassification>(c, config);
  else engine::fail<engine::ConfigError>("[gpt2] unsupported architecture ", architecture);
  common::init_bert_like(*model, c.initializer_range);
  // GPT2PreTrainedModel._init_weights: c_proj weights get std / sqrt(2 * n_layer) (GPT-2 paper,
  // residual-path scaling).
  const double proj_std = c.initializer_range / std::sqrt(2.0 * double(c.n_layer));
  const std::string suffix = ".c_proj.weight";
  for (auto& [name, p] : model->named_parameters())
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      common::normal_init(p, proj_std);
  return model;
}

}  // namespace models
