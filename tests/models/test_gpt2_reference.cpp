// GPT-2 numerics: logits against a hand-written PyTorch GPT-2 (tests/models/data/
// gpt2_reference.py; config fields the HF fixture does not use), the HF fixture `gpt2` in
// process (outputs and every gradient, check_case.py's tolerance), and the equivalences
// generation and prefix tuning rely on: KV-cache decoding == recomputing the whole sequence,
// left padding with mask-derived positions == no padding, a prefix == earlier tokens.
#include <gtest/gtest.h>

#include "app/dump/batch_json.h"
#include "engine/engine.h"
#include "models/loading/checkpoint.h"
#include "support/test_support.h"
#include "test_gpt2_reference.h"

namespace {
using engine::Tensor;

float max_abs_diff(const Tensor& a, const Tensor& b) { return engine::max(engine::abs(a - b)).item<float>(); }

Tensor ids_tensor(const std::vector<int64_t>& v, int64_t rows) {
  return engine::from_vector(v, {rows, int64_t(v.size()) / rows});
}

// check_case.py's rule: max_abs <= 1e-4 * max|expected| + 1e-6.
void expect_close(const std::string& name, const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape()) << name;
  const float scale = engine::max(engine::abs(expected)).item<float>();
  const float diff = max_abs_diff(actual.to(engine::DType::f32), expected);
  EXPECT_LE(diff, 1e-4f * scale + 1e-6f) << name << " max_abs " << diff << " (max|expected| " << scale << ")";
}

TEST(GPT2Reference, LogitsMatchHandWrittenPyTorch) {
  const nlohmann::json ref = gpt2_reference::load_json();
  auto model = gpt2_reference::make_model(ref);
  models::Batch batch;  // right-padded, as the script's batch
  batch.input_ids = ids_tensor({5, 17, 9, 22, 1, 12, 7, 26, 0, 0}, 2);
  batch.attention_mask = ids_tensor({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 2);
  const Tensor logits = model->forward(batch).logits;  // [2,5,29]
  for (int64_t b = 0; b < 2; ++b) {
    const auto& rows = ref["logits"][size_t(b)];
    for (size_t t = 0; t < rows.size(); ++t) {
      const std::vector<float> expected = rows[t].get<std::vector<float>>();
      const Tensor actual = logits.select(0, b).select(0, int64_t(t));
      EXPECT_LT(max_abs_diff(actual, engine::from_vector(expected, {29})), 2e-5f) << "row " << b << " pos " << t;
    }
  }
}

TEST(GPT2Reference, FixtureOutputsAndGradientsMatchTransformers) {
  SKIP_WITHOUT_SHARED("fixtures/gpt2");
  const auto dir = test_support::shared_path("fixtures/gpt2");
  auto model = models::load_pretrained(dir / "model");
  model->requires_grad_(true);
  models::ForwardOptions options;
  options.output_hidden_states = true;
  const models::ModelOutput out = model->forward(app::dump::batch_from_json(app::dump::read_json(dir / "inputs.json")), options);
  const auto expected = models::read_safetensors(dir / "expected.safetensors");
  expect_close("logits", out.logits, expected.at("logits"));
  expect_close("loss", out.loss, expected.at("loss"));
  expect_close("last_hidden_state", out.last_hidden_state, expected.at("last_hidden_state"));
  ASSERT_EQ(out.hidden_states.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    expect_close("hidden_states." + std::to_string(i), out.hidden_states[i], expected.at("hidden_states." + std::to_string(i)));
  out.loss.backward();
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    expect_close("grad." + name, p.grad(), expected.at("grad." + name));  // wte's includes lm_head's use
  }
}

// Left-padded rows with positions cumsum(mask) - 1, decoded one token at a time through the
// cache, give the logits of the full forward to 1e-5.
TEST(GPT2Reference, KvCacheDecodingEqualsFullRecompute) {
  auto model = gpt2_reference::make_model(gpt2_reference::load_json());
  engine::NoGradGuard no_grad;
  const int64_t T = 7, t0 = 3;
  const std::vector<int64_t> ids = {0, 0, 12, 7, 26, 4, 8, /**/ 5, 17, 9, 22, 1, 2, 3};
  const std::vector<int64_t> mask = {0, 0, 1, 1, 1, 1, 1, /**/ 1, 1, 1, 1, 1, 1, 1};
  const std::vector<int64_t> pos = {1, 1, 0, 1, 2, 3, 4, /**/ 0, 1, 2, 3, 4, 5, 6};
  models::Batch full;
  full.input_ids = ids_tensor(ids, 2), full.attention_mask = ids_tensor(mask, 2), full.position_ids = ids_tensor(pos, 2);
  const Tensor expected = model->forward(full).logits;  // [2,T,V]

  models::KVCache cache;
  models::ForwardOptions options;
  options.cache = &cache;
  std::vector<Tensor> steps;
  for (int64_t start = 0; start < T;) {
    const int64_t n = start == 0 ? t0 : 1;
    models::Batch step;
    step.input_ids = full.input_ids.narrow(1, start, n).contiguous();
    step.position_ids = full.position_ids.narrow(1, start, n).contiguous();
    step.attention_mask = full.attention_mask.narrow(1, 0, start + n).contiguous();  // every key so far
    steps.push_back(model->forward(step, options).logits);
    start += n;
  }
  EXPECT_EQ(cache.length(), T);
  const Tensor incremental = engine::concat(steps, 1);
  // Rows of padding attend nothing and are not compared.
  EXPECT_LT(max_abs_diff(incremental.narrow(0, 1, 1), expected.narrow(0, 1, 1)), 1e-5f);
  EXPECT_LT(max_abs_diff(incremental.select(0, 0).narrow(0, 2, T - 2), expected.select(0, 0).narrow(0, 2, T - 2)), 1e-5f);

  // The padded row equals the same tokens without padding (default positions 0..4).
  models::Batch alone;
  alone.input_ids = ids_tensor({12, 7, 26, 4, 8}, 1);
  EXPECT_LT(max_abs_diff(model->forward(alone).logits.select(0, 0), expected.select(0, 0).narrow(0, 2, T - 2)), 1e-5f);
}

// Prefix K/V taken from a run on tokens A behave as A itself: positions shift by P and the
// prefix is attended whether or not the mask carries peft's leading ones.
TEST(GPT2Reference, PrefixActsAsEarlierPositions) {
  auto model = gpt2_reference::make_model(gpt2_reference::load_json());
  engine::NoGradGuard no_grad;
  models::Batch whole, a, b;
  whole.input_ids = ids_tensor({5, 17, 9, 22, 1, 12, 7}, 1);
  a.input_ids = whole.input_ids.narrow(1, 0, 4).contiguous();
  b.input_ids = whole.input_ids.narrow(1, 4, 3).contiguous();
  const Tensor expected = model->forward(whole).logits.narrow(1, 4, 3);

  models::KVCache cache;
  models::ForwardOptions run_a;
  run_a.cache = &cache;
  model->forward(a, run_a);
  models::ForwardOptions with_prefix;
  with_prefix.prefix = &cache.self_attn;
  EXPECT_LT(max_abs_diff(model->forward(b, with_prefix).logits, expected), 1e-5f);
  b.attention_mask = engine::ones({1, 7}, engine::DType::i64);  // peft: ones for the prefix too
  EXPECT_LT(max_abs_diff(model->forward(b, with_prefix).logits, expected), 1e-5f);
}

}  // namespace
