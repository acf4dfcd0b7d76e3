// GPT-2 structure, config and loading: HF module/parameter names and Conv1D layouts, every
// config field validated, tied lm_head (also when the checkpoint omits it), keys with or
// without "transformer.", strict errors, sequence-classification pooling, hook sites, and the
// real HF folder tiny-gpt2-random with its tokenizer.
#include <filesystem>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "models/gpt2/gpt2_heads.h"
#include "models/loading/checkpoint.h"
#include "models/model.h"
#include "models/tokenizers/tokenizer.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;
using engine::Tensor;

nlohmann::json tiny_config() {
  return {{"model_type", "gpt2"}, {"vocab_size", 31}, {"n_positions", 16}, {"n_embd", 8}, {"n_layer", 2},
          {"n_head", 2},          {"n_inner", nullptr}, {"pad_token_id", 0}, {"eos_token_id", 1}};
}

std::string error_of(const nlohmann::json& config, const std::string& arch = "GPT2LMHeadModel") {
  try {
    models::create_model(config, arch, 0);
  } catch (const engine::Error& e) {
    return e.what();
  }
  return "";
}

TEST(GPT2, ParameterNamesAndLayoutsMatchHF) {
  auto model = models::create_model(tiny_config(), "GPT2LMHeadModel", 0);
  std::vector<std::string> names;
  for (const auto& [name, p] : model->named_parameters()) names.push_back(name);
  const std::vector<std::string> layer = {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                          "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
  std::vector<std::string> expected = {"transformer.wte.weight", "transformer.wpe.weight"};
  for (int i = 0; i < 2; ++i)
    for (const auto& n : layer) expected.push_back("transformer.h." + std::to_string(i) + "." + n);
  expected.insert(expected.end(), {"transformer.ln_f.weight", "transformer.ln_f.bias"});
  EXPECT_EQ(names, expected);  // lm_head.weight is wte's tensor, listed once (as torch)

  EXPECT_EQ(model->get("transformer.h.0.attn.c_attn")->type_name(), "Conv1D");
  EXPECT_EQ(model->get("transformer.h.0.attn.c_attn")->param("weight").shape(), (engine::Shape{8, 24}));
  EXPECT_EQ(model->get("transformer.h.1.mlp.c_fc")->param("weight").shape(), (engine::Shape{8, 32}));  // 4 * n_embd
  EXPECT_EQ(model->get("transformer.h.1.mlp.c_proj")->param("weight").shape(), (engine::Shape{32, 8}));
  EXPECT_TRUE(model->get("lm_head")->param("weight").is_same(model->get("transformer.wte")->param("weight")));
  EXPECT_EQ(model->state_dict().count("lm_head.weight"), 1u);
  for (const char* dropout : {"transformer.drop", "transformer.h.0.attn.attn_dropout",
                              "transformer.h.0.attn.resid_dropout", "transformer.h.0.mlp.dropout"})
    EXPECT_EQ(model->get(dropout)->type_name(), "Dropout") << dropout;
}

TEST(GPT2, ConfigFieldsAreHonouredAndValidated) {
  nlohmann::json c = tiny_config();
  c["n_inner"] = 12;
  auto model = models::create_model(c, "GPT2Model", 0);
  EXPECT_EQ(model->get("h.0.mlp.c_fc")->param("weight").shape(), (engine::Shape{8, 12}));
  EXPECT_EQ(model->num_layers(), 2);
  EXPECT_EQ(model->head_dim(), 4);

  auto with = [](const char* key, nlohmann::json value) {
    nlohmann::json c = tiny_config();
    c[key] = value;
    return c;
  };
  EXPECT_NE(error_of(with("n_head", 3)).find("n_head"), std::string::npos);
  EXPECT_NE(error_of(with("activation_function", "gelu_newest")).find("activation_function"), std::string::npos);
  EXPECT_NE(error_of(with("layer_norm_epsilon", 0)).find("layer_norm_epsilon"), std::string::npos);
  EXPECT_NE(error_of(with("attn_pdrop", 1.5)).find("attn_pdrop"), std::string::npos);
  EXPECT_NE(error_of(with("eos_token_id", 31)).find("eos_token_id"), std::string::npos);
  EXPECT_NE(error_of(with("n_embd", "8")).find("n_embd"), std::string::npos);
  EXPECT_NE(error_of(with("add_cross_attention", true)).find("add_cross_attention"), std::string::npos);
  EXPECT_NE(error_of(with("model_type", "bert")).find("model_type"), std::string::npos);
  EXPECT_NE(error_of(tiny_config(), "GPT2DoubleHeadsModel").find("GPT2DoubleHeadsModel"), std::string::npos);
}

// The same input through an untied model equals the tied one with lm_head copied from wte.
TEST(GPT2, UntiedLmHeadIsItsOwnParameter) {
  nlohmann::json c = tiny_config();
  c["tie_word_embeddings"] = false;
  auto model = models::create_model(c, "GPT2LMHeadModel", 0);
  EXPECT_FALSE(model->get("lm_head")->param("weight").is_same(model->get("transformer.wte")->param("weight")));
  EXPECT_TRUE(model->tied_weights().empty());
}

TEST(GPT2, LoadsCheckpointsWithOrWithoutPrefixAndWithoutTiedCopy) {
  auto source = models::create_model(tiny_config(), "GPT2LMHeadModel", 3);
  source->eval();
  const fs::path dir = fs::path(::testing::TempDir()) / "gpt2_save";
  models::save_pretrained(*source, dir);
  const auto saved = models::read_checkpoint(dir);
  EXPECT_EQ(saved.count("lm_head.weight"), 0u);  // tied copy omitted, as HF
  EXPECT_EQ(saved.count("transformer.wte.weight"), 1u);

  models::Batch batch;
  batch.input_ids = engine::from_vector(std::vector<int64_t>{3, 4, 5, 6}, {1, 4});
  const Tensor expected = source->forward(batch).logits;
  auto loaded = models::load_pretrained(dir);
  EXPECT_EQ(loaded->architecture(), "GPT2LMHeadModel");
  EXPECT_EQ(engine::max(engine::abs(loaded->forward(batch).logits - expected)).item<float>(), 0.0f);

  // Keys without "transformer." plus an explicit (tied) lm_head.weight and legacy attn buffers.
  std::map<std::string, Tensor> bare;
  for (const auto& [k, v] : saved) bare[k.substr(std::string("transformer.").size())] = v;
  bare["lm_head.weight"] = saved.at("transformer.wte.weight");
  bare["h.0.attn.bias"] = engine::ones({1, 1, 16, 16});
  bare["h.0.attn.masked_bias"] = engine::scalar(-1e4);
  auto fresh = models::create_model(tiny_config(), "GPT2LMHeadModel", 9);
  fresh->eval();
  models::load_weights(*fresh, bare, /*strict=*/true, "bare");
  EXPECT_EQ(engine::max(engine::abs(fresh->forward(batch).logits - expected)).item<float>(), 0.0f);

  // An LM checkpoint into the base model: lm_head.weight is another head's key, not an error.
  auto base = models::create_model(tiny_config(), "GPT2Model", 0);
  models::load_weights(*base, saved, true, "lm");
  std::map<std::string, Tensor> with_head = saved;
  with_head["lm_head.weight"] = saved.at("transformer.wte.weight");
  models::load_weights(*base, with_head, true, "lm");
  fs::remove_all(dir);
}

TEST(GPT2, StrictLoadingReportsEveryProblemByName) {
  auto model = models::create_model(tiny_config(), "GPT2LMHeadModel", 0);
  std::map<std::string, Tensor> ckpt = model->state_dict();
  ckpt.erase("lm_head.weight");
  ckpt.erase("transformer.h.1.mlp.c_fc.bias");
  ckpt["transformer.h.0.attn.c_attn.weight"] = engine::zeros({24, 8});  // torch Linear layout by mistake
  ckpt["transformer.h.0.attn.c_attn.lora_A"] = engine::zeros({2, 8});
  try {
    models::load_weights(*model, ckpt, true, "ckpt");
    FAIL() << "expected a KeyError";
  } catch (const engine::KeyError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing key transformer.h.1.mlp.c_fc.bias [32]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("shape mismatch for transformer.h.0.attn.c_attn.weight: checkpoint [24,8], model [8,24]"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("unexpected key transformer.h.0.attn.c_attn.lora_A"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("lm_head"), std::string::npos) << msg;  // the tied copy may be absent
  }
}

TEST(GPT2, SequenceClassificationPoolsBeforeTheFirstPad) {
  using models::gpt2::sequence_end_positions;
  const Tensor ids = engine::from_vector(std::vector<int64_t>{5, 6, 0, 0, 5, 6, 7, 8, 0, 5, 0, 6}, {3, 4});
  // first pad at 2 -> 1; no pad -> last; pad first -> index -1 = last (HF 4.33's argmax - 1).
  EXPECT_EQ(sequence_end_positions(ids, 0, 4), (std::vector<int64_t>{1, 3, 3}));
  EXPECT_EQ(sequence_end_positions(ids, std::nullopt, 4), (std::vector<int64_t>{3, 3, 3}));

  nlohmann::json c = tiny_config();
  c["num_labels"] = 3;
  auto model = models::create_model(c, "GPT2ForSequenceClassification", 0);
  model->eval();
  EXPECT_EQ(model->get("score")->param("weight").shape(), (engine::Shape{3, 8}));
  EXPECT_FALSE(model->get("score")->has_param("bias"));
  models::Batch padded, single;
  padded.input_ids = engine::from_vector(std::vector<int64_t>{5, 6, 7, 0, 0, 9, 10, 11, 12, 13}, {2, 5});
  padded.attention_mask = engine::from_vector(std::vector<int64_t>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, {2, 5});
  padded.labels = engine::from_vector(std::vector<int64_t>{2, 0}, {2});
  single.input_ids = engine::from_vector(std::vector<int64_t>{5, 6, 7}, {1, 3});
  const models::ModelOutput out = model->forward(padded);
  ASSERT_EQ(out.logits.shape(), (engine::Shape{2, 3}));
  const Tensor alone = model->forward(single).logits;  // [1,3]
  EXPECT_LT(engine::max(engine::abs(out.logits.narrow(0, 0, 1) - alone)).item<float>(), 1e-6f);
  EXPECT_TRUE(out.loss.defined());
}

TEST(GPT2, HookSitesSeeBlockOutputs) {
  auto model = models::create_model(tiny_config(), "GPT2LMHeadModel", 0);
  model->eval();
  models::Batch batch;
  batch.input_ids = engine::from_vector(std::vector<int64_t>{3, 4, 5}, {1, 3});
  const Tensor before = model->forward(batch).logits;
  int calls = 0;
  auto block = model->get("transformer.h.1");
  block->add_hook(models::kSiteAfterAttention, [&](const Tensor& out, const Tensor&) { ++calls; return out; });
  block->add_hook(models::kSiteParallelFFN, [&](const Tensor& out, const Tensor& in) {
    ++calls;
    EXPECT_EQ(in.shape(), out.shape());  // the FFN's input (ln_2 output) [B,T,C]
    return out * 0.0;                    // drop the FFN entirely
  });
  model->add_hook(models::kSiteInputEmbeds, [&](const Tensor& out, const Tensor&) { ++calls; return out; });
  const Tensor after = model->forward(batch).logits;
  EXPECT_EQ(calls, 3);
  EXPECT_GT(engine::max(engine::abs(after - before)).item<float>(), 1e-4f);
}

TEST(GPT2, DropoutOnlyInTrainingMode) {
  auto model = models::create_model(tiny_config(), "GPT2LMHeadModel", 0);
  models::Batch batch;
  batch.input_ids = engine::from_vector(std::vector<int64_t>{3, 4, 5, 6, 7}, {1, 5});
  model->eval();
  const Tensor a = model->forward(batch).logits, b = model->forward(batch).logits;
  EXPECT_EQ(engine::max(engine::abs(a - b)).item<float>(), 0.0f);
  model->train();
  EXPECT_GT(engine::max(engine::abs(model->forward(batch).logits - a)).item<float>(), 1e-6f);
}

TEST(GPT2, LoadsTheRealTinyGpt2FolderAndItsTokenizer) {
  SKIP_WITHOUT_SHARED("models/tiny-gpt2-random");
  const fs::path dir = test_support::shared_path("models/tiny-gpt2-random");
  auto model = models::load_pretrained(dir);
  EXPECT_EQ(model->architecture(), "GPT2LMHeadModel");
  EXPECT_EQ(model->vocab_size(), 50257);
  EXPECT_EQ(model->num_parameters(), 102714);  // the folder's README
  auto tokenizer = models::load_tokenizer(dir);
  models::Batch batch;
  const auto ids = tokenizer->encode("Hello world, this is GPT-2.").ids;
  batch.input_ids = engine::from_vector(ids, {1, int64_t(ids.size())});
  batch.labels = batch.input_ids;
  const models::ModelOutput out = model->forward(batch);
  EXPECT_EQ(out.logits.shape(), (engine::Shape{1, int64_t(ids.size()), 50257}));
  EXPECT_TRUE(std::isfinite(out.loss.item<float>()));
}

}  // namespace
