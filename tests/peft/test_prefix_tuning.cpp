// Prefix tuning on tiny BERT / GPT-2 / T5: PEFT's exact K/V index layout, a prefix made of real
// tokens' cached K/V equals running those tokens (GPT-2; T5's decoder, where the prefix acts as
// earlier decoder positions), gradients match finite differences (with and without the MLP
// projection), training leaves the base bit-identical and runs no weight-gradient kernel for
// it, save -> load reproduces the outputs.
#include <filesystem>

#include "peft/methods/prefix_tuning/adapter.h"
#include "test_prompt_support.h"

namespace {
using namespace prompt_test;
namespace fs = std::filesystem;

const std::vector<std::string> kTypes = {"bert", "gpt2", "t5"};

// table[p][j] = 100·p + j, n = 3 tokens, L = 2 layers, H = 2 heads, d = 2: block b (K_0, V_0,
// K_1, V_1) covers columns 4b..4b+3, head h within it 2h..2h+1.
TEST(PrefixTuning, LayoutIsPeftsGetPrompt) {
  std::vector<float> values;
  for (int p = 0; p < 3; ++p)
    for (int j = 0; j < 16; ++j) values.push_back(float(100 * p + j));
  const Tensor table = engine::from_vector(values, {3, 16});
  for (int64_t S : {1, 2}) {
    const auto kv = peft::prefix_tuning::layer_prefixes(table, 2, 2, S);
    ASSERT_EQ(kv.size(), 2u);
    for (int64_t l = 0; l < 2; ++l) {
      const int64_t block = S == 1 ? 2 * l : 0;  // S = 2: 4l mod 4, both T5 decoder layers use pair 0
      ASSERT_EQ(kv[size_t(l)].k.shape(), (engine::Shape{1, 2, 3, 2}));
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t p = 0; p < 3; ++p)
          for (int64_t e = 0; e < 2; ++e) {
            const float k = kv[size_t(l)].k.select(0, 0).select(0, h).select(0, p).select(0, e).item<float>();
            const float v = kv[size_t(l)].v.select(0, 0).select(0, h).select(0, p).select(0, e).item<float>();
            EXPECT_EQ(k, float(100 * p + 4 * block + 2 * h + e)) << "S " << S << " layer " << l;
            EXPECT_EQ(v, float(100 * p + 4 * (block + 1) + 2 * h + e)) << "S " << S << " layer " << l;
          }
    }
  }
}

// One table row per cached position: [K_0 | V_0 | K_1 | V_1 | ...], heads-major, where
// blocks[b] gives the layer whose K (even b) or V (odd b) fills block b.
Tensor table_from_cache(const models::KVCache& cache, const std::vector<int64_t>& layer_of_pair) {
  std::vector<Tensor> blocks;
  for (int64_t layer : layer_of_pair)
    for (const Tensor& t : {cache.self_attn[size_t(layer)].k, cache.self_attn[size_t(layer)].v}) {
      const Tensor rows = t.select(0, 0).permute({1, 0, 2});  // [1,H,n,d] -> [n,H,d]
      blocks.push_back(rows.reshape({rows.size(0), -1}));     // [n,H·d]
    }
  return engine::concat(blocks, 1);  // [n, 2L·D]
}

void set_table(peft::PeftModel& m, const Tensor& table) {
  engine::NoGradGuard no_grad;
  engine::copy_(m.adapter("default").file_tensors()[0].second, table);
}

const std::vector<int64_t> kPrefixIds = {3, 17, 25, 8, 41};

TEST(PrefixTuning, CachedTokensAsPrefixEqualRunningThemGpt2) {
  auto m = with_adapter("gpt2", "prefix_tuning", {{"num_virtual_tokens", 5}});
  engine::NoGradGuard no_grad;
  models::KVCache cache;
  models::Batch prefix_batch;
  prefix_batch.input_ids = engine::from_vector(kPrefixIds, {1, 5});
  m->base().forward(prefix_batch, {.cache = &cache});
  set_table(*m, table_from_cache(cache, {0, 1}));

  const models::Batch batch = tiny_batch("gpt2");
  const Tensor adapted = m->forward(batch).logits;  // [2,6,V]
  models::Batch full = batch;
  full.input_ids = engine::concat({engine::expand(prefix_batch.input_ids, {2, 5}), batch.input_ids}, 1);
  full.attention_mask = engine::concat({engine::ones({2, 5}, engine::DType::i64), batch.attention_mask}, 1);
  full.labels = Tensor{};
  const Tensor base = m->base().forward(full).logits.narrow(1, 5, 6);
  EXPECT_LT(max_abs_diff(adapted, base), 1e-5);
}

// T5: the prefix is the decoder's n earlier positions (causal mask and relative position bias
// included). With num_layers = 4 PEFT's layout gives decoder layer l the pair 2l.
TEST(PrefixTuning, CachedTokensAsPrefixEqualRunningThemT5) {
  auto base_model = tiny_model("t5", 7, {{"num_layers", 4}});
  peft::PeftModel m(base_model);
  m.add_adapter("default", peft::make_config("prefix_tuning", {{"num_virtual_tokens", 5}, {"task_type", "SEQ_2_SEQ_LM"}}));
  engine::NoGradGuard no_grad;
  const models::Batch batch = tiny_batch("t5");
  models::KVCache cache;
  models::Batch prefix_batch = batch;
  prefix_batch.labels = Tensor{};
  prefix_batch.decoder_input_ids = engine::expand(engine::from_vector(kPrefixIds, {1, 5}), {2, 5});
  m.base().forward(prefix_batch, {.cache = &cache});
  // Blocks 0..7 = pairs 0..3; decoder layers read pairs 0 and 2 (pairs 1 and 3 are unused).
  set_table(m, table_from_cache(cache, {0, 0, 1, 1}));

  models::Batch step = batch;
  step.labels = Tensor{};
  step.decoder_input_ids = engine::from_vector(std::vector<int64_t>{0, 12, 17, 0, 22, 1}, {2, 3});
  const Tensor adapted = m.forward(step).logits;  // [2,3,V]
  models::Batch full = step;
  full.decoder_input_ids = engine::concat({prefix_batch.decoder_input_ids, step.decoder_input_ids}, 1);
  const Tensor base = m.base().forward(full).logits.narrow(1, 5, 3);
  // Row 0 only: the table came from row 0's cache, and decoder layer 1's K/V depend on each
  // row's encoder output through cross-attention.
  EXPECT_LT(max_abs_diff(adapted.select(0, 0), base.select(0, 0)), 1e-5);
}

TEST(PrefixTuning, GradientsMatchFiniteDifferences) {
  for (bool projection : {false, true})
    for (const std::string& type : kTypes) {
      auto m = with_adapter(type, "prefix_tuning",
                            {{"num_virtual_tokens", 3}, {"prefix_projection", projection}, {"encoder_hidden_size", 8}});
      std::vector<std::string> names;
      for (auto& [name, t] : m->trainable_parameters()) {
        names.push_back(name);
        expect_fd_gradient(*m, tiny_batch(type), t, type + " " + name);
      }
      EXPECT_EQ(names[0], "prompt_embeddings");
      if (projection) EXPECT_EQ(names[1], "prompt_encoder.default.transform.0.weight");
    }
}

TEST(PrefixTuning, TrainingLeavesTheBaseUntouchedAndRunsNoBaseWeightGradient) {
  for (bool projection : {false, true})
    for (const std::string& type : kTypes) {
      auto m = with_adapter(type, "prefix_tuning", {{"num_virtual_tokens", 3}, {"prefix_projection", projection}});
      const auto base_before = base_state(m->base());
      engine::optim::AdamW opt(m->trainable_parameters(), {.lr = 1e-2});
      for (int step = 0; step < 3; ++step) {
        opt.zero_grad();
        const models::ModelOutput out = m->forward(tiny_batch(type));
        engine::reset_counters();
        out.loss.backward();
        // Only the projection's 2 Linear and BERT's classifier copy compute a weight gradient.
        EXPECT_EQ(engine::counters().backward_count("linear.dw"), (projection ? 2 : 0) + (type == "bert" ? 1 : 0)) << type;
        opt.step();
      }
      m->unload();
      const auto base_after = base_state(m->base());
      ASSERT_EQ(base_after.size(), base_before.size());
      for (auto& [name, t] : base_before) EXPECT_EQ(max_abs_diff(t, base_after.at(name)), 0) << type << " " << name;
    }
}

TEST(PrefixTuning, SaveLoadReproducesOutputs) {
  for (bool projection : {false, true})
    for (const std::string& type : kTypes) {
      auto m = with_adapter(type, "prefix_tuning", {{"num_virtual_tokens", 3}, {"prefix_projection", projection}});
      const fs::path dir = fs::path(::testing::TempDir()) / ("prefix_roundtrip_" + type + std::to_string(projection));
      m->save_pretrained(dir);
      peft::PeftModel loaded(tiny_model(type));
      loaded.load_adapter(dir);
      const auto file = loaded.adapter("default").file_tensors();
      EXPECT_EQ(file[0].second.shape(), (engine::Shape{3, 2 * 2 * 32}));  // [n, 2L·D], first n rows only
      engine::NoGradGuard no_grad;
      const models::Batch batch = tiny_batch(type);
      EXPECT_LT(max_abs_diff(m->forward(batch).logits, loaded.forward(batch).logits), 1e-5) << type;
      fs::remove_all(dir);
    }
}

}  // namespace
