// T5 against the transformers fixtures in-process (the CLI path `peft dump` is covered by
// test_fixtures.cpp): HF parameter names and tied tensors, outputs and every gradient of the
// v1.0 case, T5EncoderModel on the same checkpoint, and peft's prefix tuning for T5 (the
// decoder's self-attention only, as earlier positions), including the prefix's gradient.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "models/loading/checkpoint.h"
#include "models/model.h"
#include "support/test_support.h"

namespace {
using engine::Tensor;

Tensor ids_from_json(const nlohmann::json& v) {
  std::vector<int64_t> data;
  for (const auto& row : v)
    for (const auto& x : row) data.push_back(x.get<int64_t>());
  return engine::from_vector(data, {int64_t(v.size()), int64_t(v[0].size())});
}

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// The fixture's batch: input_ids, attention_mask, labels (decoder inputs come from labels).
models::Batch fixture_batch() {
  const nlohmann::json in = read_json(test_support::shared_path("fixtures/t5/inputs.json"));
  models::Batch b;
  b.input_ids = ids_from_json(in["input_ids"]);
  b.attention_mask = ids_from_json(in["attention_mask"]);
  b.labels = ids_from_json(in["labels"]);
  return b;
}

// check_case.py's rule: max |diff| <= 1e-4 * max |expected| + 1e-6.
void expect_matches(const std::string& name, const Tensor& got, const Tensor& want) {
  ASSERT_TRUE(got.defined()) << name << " missing";
  ASSERT_EQ(got.shape(), want.shape()) << name;
  std::vector<float> x = got.to_vector<float>(), y = want.to_vector<float>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size(); ++i)
    diff = std::max(diff, double(std::abs(x[i] - y[i]))), scale = std::max(scale, double(std::abs(y[i])));
  EXPECT_LE(diff, 1e-4 * scale + 1e-6) << name << ": max |diff| " << diff << " (scale " << scale << ")";
}

std::map<std::string, Tensor> named(const models::ModelOutput& o) {
  std::map<std::string, Tensor> m = {{"logits", o.logits},
                                     {"loss", o.loss},
                                     {"last_hidden_state", o.last_hidden_state},
                                     {"encoder_last_hidden_state", o.encoder_last_hidden_state}};
  for (size_t i = 0; i < o.encoder_hidden_states.size(); ++i)
    m["encoder_hidden_states." + std::to_string(i)] = o.encoder_hidden_states[i];
  for (size_t i = 0; i < o.decoder_hidden_states.size(); ++i)
    m["decoder_hidden_states." + std::to_string(i)] = o.decoder_hidden_states[i];
  return m;
}

TEST(T5Fixture, ParameterNamesEqualHFNamedParameters) {
  SKIP_WITHOUT_SHARED("fixtures/t5");
  nlohmann::ordered_json meta;
  std::ifstream(test_support::shared_path("fixtures/t5/meta.json")) >> meta;
  std::vector<std::string> expected, got;
  for (const auto& [name, shape] : meta["parameters"].items()) expected.push_back(name);
  models::ModelPtr model = models::load_pretrained(test_support::shared_path("fixtures/t5/model"));
  for (const auto& [name, p] : model->named_parameters()) got.push_back(name);
  EXPECT_EQ(got, expected);
  // The tied aliases are the same tensor as shared.weight, listed in the state dict as in torch.
  const auto state = model->state_dict();
  for (const auto& [alias, source] : meta["tied_aliases"].items()) {
    ASSERT_TRUE(state.count(alias)) << alias;
    EXPECT_EQ(state.at(alias).impl(), state.at(source.get<std::string>()).impl()) << alias;
  }
}

TEST(T5Fixture, OutputsAndGradientsMatchTransformers) {
  SKIP_WITHOUT_SHARED("fixtures/t5");
  models::ModelPtr model = models::load_pretrained(test_support::shared_path("fixtures/t5/model"));
  const auto expected = models::read_safetensors(test_support::shared_path("fixtures/t5/expected.safetensors"));
  models::ForwardOptions opt;
  opt.output_hidden_states = true;
  models::ModelOutput out = model->forward(fixture_batch(), opt);
  out.loss.backward();
  std::map<std::string, Tensor> got = named(out);
  for (const auto& [name, p] : model->named_parameters()) got["grad." + name] = p.grad();
  for (const auto& [name, want] : expected) {
    ASSERT_TRUE(got.count(name)) << name;
    expect_matches(name, got[name], want);
  }
}

TEST(T5Fixture, EncoderModelLoadsTheFullCheckpoint) {
  SKIP_WITHOUT_SHARED("fixtures/t5");
  models::LoadOptions load;
  load.architecture = "T5EncoderModel";  // the decoder and lm_head keys are ignored, as HF does
  models::ModelPtr model = models::load_pretrained(test_support::shared_path("fixtures/t5/model"), load);
  EXPECT_EQ(model->architecture(), "T5EncoderModel");
  EXPECT_FALSE(model->find("decoder"));
  const auto expected = models::read_safetensors(test_support::shared_path("fixtures/t5/expected.safetensors"));
  models::Batch b = fixture_batch();
  b.labels = Tensor{};
  models::ForwardOptions opt;
  opt.output_hidden_states = true;
  models::ModelOutput out = model->forward(b, opt);
  expect_matches("last_hidden_state", out.last_hidden_state, expected.at("encoder_last_hidden_state"));
  ASSERT_EQ(out.hidden_states.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    expect_matches("hidden_states." + std::to_string(i), out.hidden_states[i],
                   expected.at("encoder_hidden_states." + std::to_string(i)));
}

// peft's get_prompt for SEQ_2_SEQ_LM (PEFT_FORMAT.md §2.5): [P, 2L·D] -> [2L, H, P, d];
// doubled to 4L entries and split in fours, decoder layer l's self K/V are stored blocks
// 2·((2l) mod L) and that + 1; the cross-attention prefix is dropped.
std::vector<models::LayerKV> t5_prefix(const Tensor& prompt, int64_t L, int64_t H, int64_t decoder_layers) {
  const int64_t P = prompt.size(0), d = prompt.size(1) / (2 * L * H);
  Tensor blocks = prompt.view({P, 2 * L, H, d}).permute({1, 2, 0, 3});  // [2L,H,P,d]
  std::vector<models::LayerKV> prefix;
  for (int64_t l = 0; l < decoder_layers; ++l) {
    const int64_t k = 2 * ((2 * l) % L);
    prefix.push_back({blocks.select(0, k).unsqueeze(0), blocks.select(0, k + 1).unsqueeze(0)});  // [1,H,P,d]
  }
  return prefix;
}

TEST(T5Fixture, PrefixTuningMatchesPeft) {
  SKIP_WITHOUT_SHARED("fixtures/t5/adapter/prefix_tuning");
  const auto dir = test_support::shared_path("fixtures/t5/adapter/prefix_tuning");
  models::ModelPtr model = models::load_pretrained(test_support::shared_path("fixtures/t5/model"));
  model->requires_grad_(false);
  const auto expected = models::read_safetensors(dir / "expected.safetensors");
  Tensor prompt = models::read_safetensors(dir / "adapter_model.safetensors").at("prompt_embeddings").clone();
  prompt.requires_grad_(true);
  const nlohmann::json cfg = read_json(dir / "adapter_config.json");
  std::vector<models::LayerKV> prefix = t5_prefix(prompt, cfg["num_layers"], cfg["num_attention_heads"], 2);

  models::ForwardOptions opt;
  opt.output_hidden_states = true;
  opt.prefix = &prefix;
  models::ModelOutput out = model->forward(fixture_batch(), opt);
  out.loss.backward();
  std::map<std::string, Tensor> got = named(out);
  got["grad.prompt_embeddings"] = prompt.grad();
  for (const auto& [name, want] : expected) {
    ASSERT_TRUE(got.count(name)) << name;
    expect_matches(name, got[name], want);
  }
}

}  // namespace
