// T5 behaviour beyond the golden fixtures: relative position buckets against a hand-computed
// table, the bias shared from block 0 and offset for cached/prefix positions, KV-cache
// decoding equal to full recomputation, config parsing and validation, strict loading with
// or without the tied aliases, HF's initialisation, hook sites and dropout.
#include <cmath>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/ops/reduce.h"
#include "models/model.h"
#include "models/t5/t5_attention.h"
#include "models/t5/t5_model.h"

namespace {
using engine::Tensor;

nlohmann::json tiny_config(bool gated = false) {
  return {{"model_type", "t5"},  {"vocab_size", 50},    {"d_model", 16},        {"d_kv", 6},
          {"d_ff", 24},          {"num_layers", 2},     {"num_decoder_layers", 2}, {"num_heads", 3},
          {"relative_attention_num_buckets", 8}, {"relative_attention_max_distance", 10},
          {"dropout_rate", 0.1}, {"feed_forward_proj", gated ? "gated-gelu" : "relu"},
          {"tie_word_embeddings", !gated}, {"decoder_start_token_id", 0}};
}

models::ModelPtr tiny_model(bool gated = false, const std::string& arch = "T5ForConditionalGeneration") {
  models::ModelPtr m = models::create_model(tiny_config(gated), arch, 7);
  m->eval();
  return m;
}

Tensor ids(std::vector<int64_t> v, int64_t rows) { return engine::from_vector(v, {rows, int64_t(v.size()) / rows}); }

models::Batch tiny_batch() {
  models::Batch b;
  b.input_ids = ids({5, 7, 9, 11, 13, 1, 6, 8, 10, 1, 0, 0}, 2);
  b.attention_mask = ids({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 2);
  b.decoder_input_ids = ids({0, 3, 4, 12, 20, 0, 30, 31, 2, 0}, 2);
  return b;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, double(std::abs(x[i] - y[i])));
  return m;
}

TEST(T5Buckets, HandComputedTable) {
  using models::t5::relative_position_bucket;
  // Encoder (bidirectional), 32 buckets, max distance 128: 16 per sign, exact below 8, then
  // 8 + ⌊log(n/8)/log(16)·8⌋ capped at 15; later keys (n > 0) add 16.
  const std::vector<std::pair<int64_t, int64_t>> encoder = {
      {0, 0},   {-1, 1},  {-7, 7},  {-8, 8},   {-15, 9},  {-16, 10}, {-32, 12},  {-64, 14}, {-100, 15},
      {-128, 15}, {-500, 15}, {1, 17}, {7, 23}, {8, 24}, {16, 26}, {32, 28},   {64, 30},  {128, 31}};
  for (auto [rel, bucket] : encoder) EXPECT_EQ(relative_position_bucket(rel, true, 32, 128), bucket) << rel;
  // Decoder (causal): later keys all share bucket 0; exact below 16, then
  // 16 + ⌊log(n/16)/log(8)·16⌋ capped at 31.
  const std::vector<std::pair<int64_t, int64_t>> decoder = {
      {5, 0},   {0, 0},   {-1, 1},  {-15, 15}, {-16, 16}, {-32, 21}, {-64, 26}, {-100, 30}, {-128, 31}, {-1000, 31}};
  for (auto [rel, bucket] : decoder) EXPECT_EQ(relative_position_bucket(rel, false, 32, 128), bucket) << rel;
  // Other settings: 8 buckets, max distance 10 (encoder: exact below 2, log-spaced 2..3).
  EXPECT_EQ(relative_position_bucket(-2, true, 8, 10), 2);  // 2 + ⌊log(1)/log(5)·2⌋
  EXPECT_EQ(relative_position_bucket(-5, true, 8, 10), 3);  // 2 + ⌊log(2.5)/log(5)·2⌋ = 3
  EXPECT_EQ(relative_position_bucket(3, true, 8, 10), 6);   // 4 + 2 + ⌊log(1.5)/log(5)·2⌋
}

TEST(T5Buckets, OffsetQueriesEqualTheLastRowsOfTheFullBias) {
  models::ModelPtr m = tiny_model();
  for (const char* stack : {"encoder", "decoder"}) {
    auto attn = std::dynamic_pointer_cast<models::t5::T5Attention>(
        m->get(std::string(stack) + ".block.0.layer.0.SelfAttention"));
    ASSERT_TRUE(attn && attn->has_relative_attention_bias());
    Tensor full = attn->position_bias(9, 9, 0);  // [1,H,9,9]
    Tensor tail = attn->position_bias(2, 9, 7);  // queries at positions 7, 8
    EXPECT_EQ(tail.shape(), (engine::Shape{1, 3, 2, 9}));
    EXPECT_EQ(max_abs_diff(tail, full.narrow(2, 7, 2).contiguous()), 0.0) << stack;
  }
}

TEST(T5, RelativeBiasOnlyInBlockZeroAndInnerDimIsHeadsTimesDkv) {
  models::ModelPtr m = tiny_model();
  int count = 0;
  for (const auto& [name, p] : m->named_parameters())
    if (name.find("relative_attention_bias") != std::string::npos) {
      ++count;
      EXPECT_TRUE(name.find(".block.0.layer.0.SelfAttention.") != std::string::npos) << name;
      EXPECT_EQ(p.shape(), (engine::Shape{8, 3}));
    }
  EXPECT_EQ(count, 2);
  const auto state = m->state_dict();
  EXPECT_EQ(state.at("encoder.block.1.layer.0.SelfAttention.q.weight").shape(), (engine::Shape{18, 16}));  // H·d_kv
  EXPECT_EQ(state.at("decoder.block.0.layer.1.EncDecAttention.o.weight").shape(), (engine::Shape{16, 18}));
  EXPECT_EQ(m->head_dim(), 6);
}

TEST(T5, KVCacheDecodingEqualsFullRecomputation) {
  for (bool with_prefix : {false, true}) {
    models::ModelPtr m = tiny_model();
    models::Batch b = tiny_batch();
    std::vector<models::LayerKV> prefix;
    engine::Generator gen(5);
    for (int i = 0; i < 2; ++i) prefix.push_back({engine::randn({1, 3, 4, 6}, engine::DType::f32, gen),
                                                  engine::randn({1, 3, 4, 6}, engine::DType::f32, gen)});
    models::ForwardOptions full_opt;
    if (with_prefix) full_opt.prefix = &prefix;
    models::ModelOutput full = m->forward(b, full_opt);  // logits [2,5,V]
    if (with_prefix) {  // peft prepends ones for the prefix to the decoder mask: same result
      models::Batch masked = b;
      masked.decoder_attention_mask = engine::ones({2, 4 + 5}, engine::DType::i64);
      EXPECT_EQ(max_abs_diff(m->forward(masked, full_opt).logits, full.logits), 0.0);
    }

    models::KVCache cache;
    models::ForwardOptions step_opt = full_opt;
    step_opt.cache = &cache;
    step_opt.encoder_output = full.encoder_last_hidden_state;
    step_opt.encoder_attention_mask = b.attention_mask;
    Tensor cross_k;
    for (int64_t t = 0; t < 5; ++t) {
      models::Batch step;
      step.decoder_input_ids = b.decoder_input_ids.narrow(1, t, 1).contiguous();
      models::ModelOutput out = m->forward(step, step_opt);
      EXPECT_LT(max_abs_diff(out.logits, full.logits.narrow(1, t, 1).contiguous()), 1e-5) << t << " " << with_prefix;
      EXPECT_EQ(cache.length(), t + 1);
      if (t == 0) cross_k = cache.cross_attn[0].k;
      EXPECT_EQ(cache.cross_attn[0].k.impl(), cross_k.impl()) << "cross-attention K/V are computed once";
    }
  }
}

TEST(T5, ConfigFieldsAreReadAndValidated) {
  models::ModelPtr gated = tiny_model(true);
  EXPECT_TRUE(gated->find("decoder.block.1.layer.2.DenseReluDense.wi_0"));
  EXPECT_FALSE(gated->find("decoder.block.1.layer.2.DenseReluDense.wi"));
  EXPECT_NE(gated->state_dict().at("lm_head.weight").impl(), gated->state_dict().at("shared.weight").impl());
  nlohmann::json c = tiny_config();
  c.erase("num_decoder_layers");
  c["num_layers"] = 3;
  EXPECT_TRUE(models::create_model(c, "T5ForConditionalGeneration", 1)->find("decoder.block.2"));

  auto fails_naming = [](nlohmann::json cfg, const std::string& key) {
    try {
      models::create_model(cfg, "T5ForConditionalGeneration", 1);
      ADD_FAILURE() << key << " accepted";
    } catch (const engine::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  for (const char* bad : {"gelu-gated", "gated-gelu-new", "gated-", "swishy"}) {
    nlohmann::json cfg = tiny_config();
    cfg["feed_forward_proj"] = bad;
    fails_naming(cfg, "feed_forward_proj");
  }
  nlohmann::json cfg = tiny_config();
  cfg["relative_attention_max_distance"] = 4;  // inside the decoder's exact range (8 / 2)
  fails_naming(cfg, "relative_attention_max_distance");
  cfg = tiny_config(), cfg["d_kv"] = 0, fails_naming(cfg, "d_kv");
  cfg = tiny_config(), cfg["dropout_rate"] = 1.5, fails_naming(cfg, "dropout_rate");
  cfg = tiny_config(), cfg["model_type"] = "bert", fails_naming(cfg, "model_type");
  cfg = tiny_config(), cfg["decoder_start_token_id"] = 50, fails_naming(cfg, "decoder_start_token_id");
}

TEST(T5, LabelsAreShiftedRightWithPadForIgnored) {
  Tensor labels = ids({4, 5, 6, 1, 7, 1, -100, -100}, 2);
  EXPECT_EQ(models::t5::shift_right(labels, 0, 0).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 4, 5, 6, 0, 7, 1, 0}));
  nlohmann::json cfg = tiny_config();
  cfg.erase("decoder_start_token_id");
  models::ModelPtr m = models::create_model(cfg, "T5ForConditionalGeneration", 1);
  models::Batch b = tiny_batch();
  b.decoder_input_ids = Tensor{};
  b.labels = ids({4, 5, 6, 1, 7, 1, -100, -100}, 2);
  EXPECT_THROW(m->forward(b), engine::ConfigError);
  // With labels only, the loss equals CE on decoder_input_ids = shift_right(labels).
  models::ModelPtr t = tiny_model();
  models::ModelOutput from_labels = t->forward(b);
  b.decoder_input_ids = models::t5::shift_right(b.labels, 0, 0);
  EXPECT_LT(max_abs_diff(from_labels.logits, t->forward(b).logits), 1e-6);
  EXPECT_TRUE(from_labels.loss.defined());
}

TEST(T5, TiedOutputIsRescaledByInverseSqrtDModel) {
  models::ModelPtr m = tiny_model();
  models::ModelOutput out = m->forward(tiny_batch());
  Tensor w = m->state_dict().at("shared.weight");                                       // [V,D]
  Tensor expected = engine::matmul(out.last_hidden_state * (1.0 / std::sqrt(16.0)), w.t());  // [B,T,V]
  EXPECT_LT(max_abs_diff(out.logits, expected), 1e-5);
  EXPECT_EQ(m->state_dict().at("lm_head.weight").impl(), w.impl());
}

TEST(T5, LoadsWithOrWithoutTiedAliasesAndReportsEveryProblem) {
  models::ModelPtr src = models::create_model(tiny_config(), "T5ForConditionalGeneration", 3);
  std::map<std::string, Tensor> ckpt = src->state_dict();  // includes the aliases
  models::ModelPtr dst = models::create_model(tiny_config(), "T5ForConditionalGeneration", 4);
  models::load_weights(*dst, ckpt, true, "with-aliases");
  EXPECT_EQ(max_abs_diff(dst->state_dict().at("shared.weight"), ckpt.at("shared.weight")), 0.0);
  for (const char* alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"})
    ckpt.erase(alias);
  models::load_weights(*dst, ckpt, true, "without-aliases");

  ckpt.erase("decoder.block.1.layer.1.EncDecAttention.k.weight");
  ckpt["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = engine::zeros({9, 3});
  ckpt["encoder.block.9.layer.0.layer_norm.weight"] = engine::zeros({16});
  try {
    models::load_weights(*dst, ckpt, true, "broken");
    ADD_FAILURE() << "broken checkpoint accepted";
  } catch (const engine::KeyError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing key decoder.block.1.layer.1.EncDecAttention.k.weight [18,16]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("relative_attention_bias.weight: checkpoint [9,3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected key encoder.block.9.layer.0.layer_norm.weight"), std::string::npos) << msg;
  }
}

TEST(T5, InitialisationFollowsHF) {
  nlohmann::json c = tiny_config(true);
  c["d_model"] = 64, c["d_kv"] = 16, c["d_ff"] = 256, c["num_heads"] = 4, c["initializer_factor"] = 2.0;
  c["relative_attention_num_buckets"] = 32, c["relative_attention_max_distance"] = 128;
  models::ModelPtr m = models::create_model(c, "T5ForConditionalGeneration", 11);
  const auto state = m->state_dict();
  auto stddev = [&](const std::string& name) {
    std::vector<float> v = state.at(name).to_vector<float>();
    double s = 0;
    for (float x : v) s += double(x) * x;
    return std::sqrt(s / double(v.size()));
  };
  const std::vector<std::pair<std::string, double>> expected = {
      {"shared.weight", 2.0},
      {"lm_head.weight", 2.0},
      {"encoder.block.0.layer.0.SelfAttention.q.weight", 2.0 / std::sqrt(64.0 * 16)},
      {"encoder.block.0.layer.0.SelfAttention.k.weight", 2.0 / 8},
      {"decoder.block.1.layer.1.EncDecAttention.o.weight", 2.0 / 8},
      {"decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 2.0 / 8},
      {"encoder.block.1.layer.1.DenseReluDense.wi_1.weight", 2.0 / 8},
      {"encoder.block.1.layer.1.DenseReluDense.wo.weight", 2.0 / 16}};
  for (const auto& [name, s] : expected) EXPECT_NEAR(stddev(name), s, 0.25 * s) << name;
  EXPECT_EQ(state.at("decoder.final_layer_norm.weight").to_vector<float>(), std::vector<float>(64, 2.0f));
}

TEST(T5, HookSitesSeeEachSubLayer) {
  models::ModelPtr m = tiny_model();
  models::ModelOutput base = m->forward(tiny_batch());
  Tensor seen_input;
  auto ff = m->get("encoder.block.0.layer.1");
  ff->add_hook(models::kSiteParallelFFN, [&](const Tensor& out, const Tensor& in) {
    seen_input = in;
    return out;
  });
  EXPECT_EQ(max_abs_diff(m->forward(tiny_batch()).logits, base.logits), 0.0);
  ASSERT_TRUE(seen_input.defined());
  EXPECT_EQ(seen_input.shape(), (engine::Shape{2, 6, 16}));  // the sub-layer's input (residual stream)
  for (const char* layer : {"decoder.block.1.layer.1", "encoder.block.1.layer.0"}) {
    auto sub = m->get(layer);
    sub->add_hook(models::kSiteAfterAttention, [](const Tensor& out, const Tensor&) { return out * 2.0; });
    EXPECT_GT(max_abs_diff(m->forward(tiny_batch()).logits, base.logits), 1e-4) << layer;
    sub->clear_hooks(models::kSiteAfterAttention);
  }
  m->add_hook(models::kSiteInputEmbeds, [](const Tensor& out, const Tensor&) { return out * 0.5; });
  models::ModelOutput halved = m->forward(tiny_batch());
  EXPECT_GT(max_abs_diff(halved.logits, base.logits), 1e-4);
}

TEST(T5, DropoutOnlyInTrainingMode) {
  models::ModelPtr m = tiny_model();
  Tensor eval1 = m->forward(tiny_batch()).logits, eval2 = m->forward(tiny_batch()).logits;
  EXPECT_EQ(max_abs_diff(eval1, eval2), 0.0);
  m->train();
  EXPECT_GT(max_abs_diff(m->forward(tiny_batch()).logits, eval1), 1e-4);
}

TEST(T5, SaveLoadRoundTripOmitsTiedCopies) {
  models::ModelPtr m = tiny_model();
  const auto dir = std::filesystem::path(::testing::TempDir()) / "t5_roundtrip";
  std::filesystem::remove_all(dir);
  models::save_pretrained(*m, dir);
  models::ModelPtr back = models::load_pretrained(dir);
  EXPECT_EQ(max_abs_diff(back->forward(tiny_batch()).logits, m->forward(tiny_batch()).logits), 0.0);
  EXPECT_EQ(back->tied_weights().size(), 3u);
}

TEST(T5, EncoderModelHasNoDecoderAndRejectsUnusedInputs) {
  models::ModelPtr m = tiny_model(false, "T5EncoderModel");
  EXPECT_FALSE(m->is_encoder_decoder());
  EXPECT_FALSE(m->find("decoder"));
  EXPECT_FALSE(m->find("lm_head"));
  models::Batch b = tiny_batch();
  models::ModelOutput out = m->forward(b);
  EXPECT_EQ(out.last_hidden_state.shape(), (engine::Shape{2, 6, 16}));
  std::vector<models::LayerKV> prefix = {{engine::zeros({1, 3, 2, 6}), engine::zeros({1, 3, 2, 6})}};
  models::ForwardOptions opt;
  opt.prefix = &prefix;
  EXPECT_THROW(m->forward(b, opt), engine::ValueError);
  b.token_type_ids = engine::zeros({2, 6}, engine::DType::i64);
  EXPECT_THROW(m->forward(b), engine::ValueError);
}

}  // namespace
