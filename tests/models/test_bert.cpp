// BERT / RoBERTa model behaviour beyond the golden fixtures: HF parameter names, RoBERTa
// positions and heads, the three sequence-classification losses, dropout in train mode,
// hook sites, prefix keys/values as earlier positions, and HF's initialisation.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/ops/reduce.h"
#include "models/common/attention_utils.h"
#include "models/model.h"
#include "support/test_support.h"

namespace {
using engine::Tensor;

nlohmann::json tiny_config(const std::string& type = "bert") {
  nlohmann::json c = {{"model_type", type},         {"vocab_size", 50},        {"hidden_size", 16},
                      {"num_hidden_layers", 2},     {"num_attention_heads", 4}, {"intermediate_size", 24},
                      {"hidden_act", "gelu"},       {"max_position_embeddings", 40}, {"type_vocab_size", 2},
                      {"hidden_dropout_prob", 0.1}, {"attention_probs_dropout_prob", 0.1}};
  if (type == "roberta") c["pad_token_id"] = 1, c["type_vocab_size"] = 1;
  return c;
}

models::Batch tiny_batch(int64_t pad = 0) {
  models::Batch b;
  b.input_ids = engine::from_vector(std::vector<int64_t>{5, 7, 9, 11, 13, 6, 8, 10, pad, pad}, {2, 5});
  b.attention_mask = engine::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  return b;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, double(std::abs(x[i] - y[i])));
  return m;
}

// Runs the one-input module at `name` (a Linear) on x.
Tensor apply(const models::PretrainedModel& m, const std::string& name, const Tensor& x) {
  return std::dynamic_pointer_cast<engine::nn::UnaryModule>(m.get(name))->forward(x);
}

std::vector<std::string> names(const models::PretrainedModel& m) {
  std::vector<std::string> out;
  for (const auto& [n, t] : m.named_parameters()) out.push_back(n);
  return out;
}

TEST(Bert, ParameterNamesEqualHFNamedParameters) {
  for (const std::string c : {"bert", "bert_mlm", "bert_seqcls"}) {
    SKIP_WITHOUT_SHARED("fixtures/" + c);
    std::ifstream in(test_support::shared_path("fixtures/" + c + "/meta.json"));
    nlohmann::ordered_json meta = nlohmann::ordered_json::parse(in);
    std::vector<std::string> expected;
    for (const auto& [name, shape] : meta["parameters"].items()) expected.push_back(name);
    EXPECT_EQ(names(*models::load_pretrained(test_support::shared_path("fixtures/" + c + "/model"))), expected) << c;
  }
}

TEST(Roberta, HeadsHaveHFNames) {
  auto cls = models::create_model(tiny_config("roberta"), "RobertaForSequenceClassification", 1);
  auto sd = cls->state_dict();
  for (const char* n : {"roberta.embeddings.position_embeddings.weight", "classifier.dense.weight",
                        "classifier.out_proj.weight", "classifier.out_proj.bias"})
    EXPECT_TRUE(sd.count(n)) << n;
  EXPECT_FALSE(sd.count("roberta.pooler.dense.weight"));
  auto mlm = models::create_model(tiny_config("roberta"), "RobertaForMaskedLM", 1);
  sd = mlm->state_dict();
  EXPECT_TRUE(sd.at("lm_head.decoder.weight").is_same(sd.at("roberta.embeddings.word_embeddings.weight")));
  EXPECT_TRUE(sd.at("lm_head.decoder.bias").is_same(sd.at("lm_head.bias")));
  EXPECT_TRUE(sd.count("lm_head.layer_norm.weight"));
  EXPECT_THROW(models::create_model(tiny_config("bert"), "RobertaModel", 1), engine::ConfigError);
}

TEST(Roberta, PositionsCountRealTokensAfterPaddingIdx) {
  auto model = models::create_model(tiny_config("roberta"), "RobertaModel", 2);
  model->eval();
  models::Batch b = tiny_batch(/*pad=*/1);
  Tensor implicit = model->forward(b).last_hidden_state;
  // HF create_position_ids_from_input_ids: padding_idx + cumsum(non-pad), pads keep padding_idx.
  b.position_ids = engine::from_vector(std::vector<int64_t>{2, 3, 4, 5, 6, 2, 3, 4, 1, 1}, {2, 5});
  EXPECT_EQ(max_abs_diff(implicit, model->forward(b).last_hidden_state), 0.0);
  b.position_ids = engine::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}, {2, 5});
  EXPECT_GT(max_abs_diff(implicit, model->forward(b).last_hidden_state), 1e-4);
}

// The loss of each problem type against the formula computed here from the logits.
TEST(Bert, SequenceClassificationProblemTypes) {
  nlohmann::json config = tiny_config();
  config["num_labels"] = 1;  // regression
  auto reg = models::create_model(config, "BertForSequenceClassification", 3);
  reg->eval();
  models::Batch b = tiny_batch();
  b.labels = engine::from_vector({0.5f, -1.0f}, {2});
  models::ModelOutput o = reg->forward(b);
  std::vector<float> z = o.logits.to_vector<float>();
  EXPECT_NEAR(o.loss.item<float>(), ((z[0] - 0.5) * (z[0] - 0.5) + (z[1] + 1) * (z[1] + 1)) / 2, 1e-6);

  config.erase("num_labels");
  config["id2label"] = {{"0", "a"}, {"1", "b"}, {"2", "c"}};  // num_labels = len(id2label)
  auto multi = models::create_model(config, "BertForSequenceClassification", 3);
  multi->eval();
  b.labels = engine::from_vector({1.f, 0.f, 1.f, 0.f, 0.f, 1.f}, {2, 3});  // float labels: multi-label
  o = multi->forward(b);
  ASSERT_EQ(o.logits.shape(), (engine::Shape{2, 3}));
  z = o.logits.to_vector<float>();
  std::vector<float> y = b.labels.to_vector<float>();
  double bce = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    double p = 1 / (1 + std::exp(-double(z[i])));
    bce -= y[i] * std::log(p) + (1 - y[i]) * std::log(1 - p);
  }
  EXPECT_NEAR(o.loss.item<float>(), bce / 6, 1e-5);

  b.labels = engine::from_vector(std::vector<int64_t>{2, 0}, {2});  // integer labels: cross-entropy
  o = multi->forward(b);
  double ce = 0;
  for (int r = 0; r < 2; ++r) {
    double lse = 0;
    for (int j = 0; j < 3; ++j) lse += std::exp(double(z[r * 3 + j]));
    ce += std::log(lse) - z[r * 3 + (r == 0 ? 2 : 0)];
  }
  EXPECT_NEAR(o.loss.item<float>(), ce / 2, 1e-5);
}

TEST(Bert, DropoutOnlyInTrainMode) {
  auto model = models::create_model(tiny_config(), "BertModel", 4);
  model->eval();
  Tensor a = model->forward(tiny_batch()).last_hidden_state;
  EXPECT_EQ(max_abs_diff(a, model->forward(tiny_batch()).last_hidden_state), 0.0);
  model->train();
  EXPECT_GT(max_abs_diff(a, model->forward(tiny_batch()).last_hidden_state), 1e-3);
}

TEST(Bert, HookSitesRunOnEveryBlock) {
  auto model = models::create_model(tiny_config(), "BertModel", 5);
  model->eval();
  Tensor plain = model->forward(tiny_batch()).last_hidden_state;
  int attention = 0, ffn = 0, parallel = 0, embeds = 0;
  for (int i = 0; i < 2; ++i) {
    auto layer = model->get("encoder.layer." + std::to_string(i));
    layer->add_hook(models::kSiteAfterAttention, [&](const Tensor& out, const Tensor&) { ++attention; return out; });
    layer->add_hook(models::kSiteAfterFFN, [&](const Tensor& out, const Tensor&) { ++ffn; return out; });
    layer->add_hook(models::kSiteParallelFFN, [&](const Tensor& out, const Tensor& in) {
      ++parallel;
      EXPECT_EQ(in.shape(), (engine::Shape{2, 5, 16}));  // the FFN's input
      return out;
    });
  }
  model->add_hook(models::kSiteInputEmbeds, [&](const Tensor& out, const Tensor&) { ++embeds; return out * 2.0; });
  Tensor hooked = model->forward(tiny_batch()).last_hidden_state;
  EXPECT_EQ(attention, 2);
  EXPECT_EQ(ffn, 2);
  EXPECT_EQ(parallel, 2);
  EXPECT_EQ(embeds, 1);
  EXPECT_GT(max_abs_diff(plain, hooked), 1e-4);  // the embedding hook's change reached the output
}

// With one layer, a prefix holding the key/value projections of P real tokens must give the
// same outputs for the following tokens as running all P+T tokens at once: this checks both
// that prefix keys are attended and that positions start at P (peft's past_key_values_length).
TEST(Bert, PrefixActsAsEarlierPositions) {
  nlohmann::json config = tiny_config();
  config["num_hidden_layers"] = 1;
  auto model = models::create_model(config, "BertModel", 6);
  model->eval();
  const int64_t P = 3, T = 4;
  models::Batch full;
  full.input_ids = engine::from_vector(std::vector<int64_t>{4, 9, 12, 20, 21, 22, 23}, {1, P + T});
  models::ForwardOptions with_states;
  with_states.output_hidden_states = true;
  models::ModelOutput all = model->forward(full, with_states);
  Tensor first = all.hidden_states[0].narrow(1, 0, P);  // layer input of the prefix tokens [1,P,C]
  std::vector<models::LayerKV> prefix = {{
      models::common::split_heads(apply(*model, "encoder.layer.0.attention.self.key", first), 4),
      models::common::split_heads(apply(*model, "encoder.layer.0.attention.self.value", first), 4),
  }};
  models::Batch rest;
  rest.input_ids = full.input_ids.narrow(1, P, T);
  models::ForwardOptions opt;
  opt.prefix = &prefix;
  Tensor got = model->forward(rest, opt).last_hidden_state;
  EXPECT_LT(max_abs_diff(got, all.last_hidden_state.narrow(1, P, T).contiguous()), 1e-5);
}

TEST(Bert, InitialisedAsHF) {
  nlohmann::json config = tiny_config();
  config["vocab_size"] = 400, config["hidden_size"] = 64, config["initializer_range"] = 0.05;
  auto model = models::create_model(config, "BertForMaskedLM", 7);
  auto sd = model->state_dict();
  std::vector<float> w = sd.at("bert.embeddings.word_embeddings.weight").to_vector<float>();
  double sq = 0;
  for (float v : w) sq += double(v) * v;
  EXPECT_NEAR(std::sqrt(sq / double(w.size())), 0.05, 0.005);
  for (int j = 0; j < 64; ++j) EXPECT_EQ(w[size_t(j)], 0.f);  // padding row 0
  for (float v : sd.at("bert.encoder.layer.0.output.LayerNorm.weight").to_vector<float>()) EXPECT_EQ(v, 1.f);
  for (float v : sd.at("cls.predictions.bias").to_vector<float>()) EXPECT_EQ(v, 0.f);
  for (float v : sd.at("bert.encoder.layer.1.attention.self.query.bias").to_vector<float>()) EXPECT_EQ(v, 0.f);
}

}  // namespace
