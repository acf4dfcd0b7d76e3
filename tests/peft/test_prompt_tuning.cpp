// Prompt tuning and P-tuning on tiny BERT / GPT-2 / T5: the batch edits match running the base
// model on real tokens (TEXT init = those tokens' embeddings), gradients match finite
// differences, training leaves the base bit-identical and runs no weight-gradient kernel for
// it, save -> load reproduces the outputs, the LSTM encoder matches torch's.
#include <filesystem>

#include "engine/autograd/gradcheck.h"
#include "engine/nn/layers.h"
#include "models/tokenizers/tokenizer.h"
#include "peft/methods/p_tuning/lstm.h"
#include "peft/methods/prompt_common/prompt_adapter.h"
#include "support/test_support.h"
#include "test_prompt_support.h"

namespace {
using namespace prompt_test;
namespace fs = std::filesystem;

const std::vector<std::string> kTypes = {"bert", "gpt2", "t5"};
const std::vector<int64_t> kTextIds = {3, 17, 25, 8, 41};

TEST(PromptTuning, FillsDimensionsFromTheModelAsPeft) {
  for (const std::string& type : kTypes) {
    auto m = with_adapter(type, "prompt_tuning", {{"num_virtual_tokens", 5}});
    const json config = m->adapter("default").config().to_json();
    EXPECT_EQ(config["token_dim"], 32) << type;
    EXPECT_EQ(config["num_attention_heads"], 4) << type;
    EXPECT_EQ(config["num_layers"], 2) << type;
    EXPECT_EQ(config["num_transformer_submodules"], type == "t5" ? 2 : 1) << type;
    const auto file = m->adapter("default").file_tensors();
    ASSERT_FALSE(file.empty());
    EXPECT_EQ(file[0].first, "prompt_embeddings");
    EXPECT_EQ(file[0].second.shape(), (engine::Shape{type == "t5" ? 10 : 5, 32})) << type;
  }
  EXPECT_THROW(peft::make_config("prompt_tuning", {{"num_virtual_tokens", 0}}), engine::ConfigError);
  EXPECT_THROW(peft::make_config("prompt_tuning", {{"prompt_tuning_init", "TEXT"}}), engine::ConfigError);
  EXPECT_THROW(peft::make_config("p_tuning", {{"encoder_reparameterization_type", "GRU"}}), engine::ConfigError);
}

// With TEXT init the virtual tokens are the embeddings of kTextIds, and peft's edits (mask
// ones, token types 0, positions from 0, labels -100) make the adapted model equal the base
// model on kTextIds + the real tokens.
TEST(PromptTuning, VirtualTokensActLikeRealTokensInFront) {
  for (const std::string& type : kTypes) {
    auto m = with_adapter(type, "prompt_tuning", {{"num_virtual_tokens", 5}, {"prompt_tuning_init", "TEXT"},
                                                  {"prompt_tuning_init_token_ids", kTextIds}});
    const models::Batch batch = tiny_batch(type);
    engine::NoGradGuard no_grad;
    const models::ModelOutput adapted = m->forward(batch);

    models::Batch plain = batch;
    const Tensor text = engine::expand(engine::from_vector(kTextIds, {1, 5}), {2, 5});
    plain.input_ids = engine::concat({text, batch.input_ids}, 1);
    plain.attention_mask = engine::concat({engine::ones({2, 5}, engine::DType::i64), batch.attention_mask}, 1);
    if (type == "bert") plain.token_type_ids = engine::concat({engine::zeros({2, 5}, engine::DType::i64), batch.token_type_ids}, 1);
    if (type == "gpt2") plain.labels = engine::concat({engine::full({2, 5}, -100, engine::DType::i64), batch.labels}, 1);
    const models::ModelOutput base = m->base().forward(plain);
    ASSERT_EQ(adapted.logits.shape(), base.logits.shape()) << type;
    EXPECT_LT(max_abs_diff(adapted.logits, base.logits), 1e-5) << type;
    EXPECT_LT(max_abs_diff(adapted.loss, base.loss), 1e-5) << type;
    if (type == "gpt2") EXPECT_EQ(adapted.logits.size(1), 11);  // 5 + T positions, as peft
  }
}

TEST(PromptTuning, TextInitTokenizesRepeatsAndTruncates) {
  SKIP_WITHOUT_SHARED("fixtures/gpt2/model");
  const fs::path tokenizer = test_support::shared_path("fixtures/gpt2/model");
  const std::vector<int64_t> ids = models::load_tokenizer(tokenizer)->encode("Hi there").ids;
  ASSERT_FALSE(ids.empty());
  auto m = std::make_unique<peft::PeftModel>(tiny_model("gpt2", 7, {{"vocab_size", 421}}));
  m->add_adapter("default", peft::make_config("prompt_tuning", {{"num_virtual_tokens", 7},
                                                                {"prompt_tuning_init", "TEXT"},
                                                                {"prompt_tuning_init_text", "Hi there"},
                                                                {"tokenizer_name_or_path", tokenizer.string()}}));
  const Tensor table = m->adapter("default").file_tensors()[0].second;  // [7,32]
  const Tensor words = m->base().input_embeddings().weight();
  for (int64_t r = 0; r < 7; ++r)  // ids repeated until 7, then cut
    EXPECT_EQ(max_abs_diff(table.select(0, r), words.select(0, ids[size_t(r) % ids.size()])), 0) << r;
}

TEST(PromptTuning, SampleVocabCopiesWordEmbeddings) {
  auto m = with_adapter("gpt2", "prompt_tuning", {{"num_virtual_tokens", 4}, {"prompt_tuning_init", "SAMPLE_VOCAB"}});
  const Tensor table = m->adapter("default").file_tensors()[0].second;
  const Tensor words = m->base().input_embeddings().weight();  // [50,32]
  for (int64_t r = 0; r < 4; ++r) {
    double best = 1e9;
    for (int64_t v = 0; v < words.size(0); ++v) best = std::min(best, max_abs_diff(table.select(0, r), words.select(0, v)));
    EXPECT_EQ(best, 0) << "row " << r << " is no word embedding";
  }
}

TEST(PromptTuning, GradientsMatchFiniteDifferences) {
  for (const std::string& type : kTypes) {
    auto m = with_adapter(type, "prompt_tuning", {{"num_virtual_tokens", 5}});
    for (auto& [name, t] : m->trainable_parameters()) expect_fd_gradient(*m, tiny_batch(type), t, type + " " + name);
  }
}

// The reparameterisation's gradients in f64 (the encoder alone: its ReLU kinks make f32
// finite differences through the whole model unreliable); the path from the table into the
// model is the one prompt tuning checks above, and the fixtures compare these gradients with
// PyTorch's.
TEST(PTuning, EncoderGradcheck) {
  for (const std::string& kind : {"MLP", "LSTM"}) {
    // token_dim 8 (the model is never run here) keeps the element-by-element check small.
    auto m = with_adapter("gpt2", "p_tuning", {{"num_virtual_tokens", 3}, {"token_dim", 8}, {"encoder_hidden_size", 3},
                                               {"encoder_reparameterization_type", kind}});
    auto& adapter = static_cast<peft::prompt::PromptAdapter&>(m->adapter("default"));
    peft::prompt::PromptEncoder& encoder = adapter.encoder();
    std::vector<std::pair<engine::nn::ModulePtr, std::string>> slots;  // (module, parameter name)
    std::vector<Tensor> inputs;
    for (auto& [name, p] : encoder.named_parameters()) {
      const size_t dot = name.rfind('.');
      slots.emplace_back(encoder.get(name.substr(0, dot)), name.substr(dot + 1));
      inputs.push_back(engine::to_dtype(p, engine::DType::f64).detach().requires_grad_());
    }
    auto fn = [&](const std::vector<Tensor>& in) {
      for (size_t i = 0; i < slots.size(); ++i) slots[i].first->param(slots[i].second) = in[i];
      return encoder.table();  // [3, 8]
    };
    const auto result = engine::autograd::gradcheck(fn, inputs);
    EXPECT_TRUE(result.ok) << kind << ": " << result.message;
    std::vector<std::string> names;
    for (auto& [name, t] : adapter.trainable_tensors()) names.push_back(name);
    EXPECT_EQ(names[0], "prompt_embeddings");  // the fixtures' grad names
    EXPECT_EQ(names[1], kind == std::string("MLP") ? "prompt_encoder.default.mlp_head.0.weight"
                                                   : "prompt_encoder.default.lstm_head.weight_ih_l0");
  }
}

// torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True, batch_first=True) in float64 with
// parameter k set to 0.5·sin(0.37·i + k), input 0.3·cos(0.5·i) of shape [1,4,3].
TEST(PTuning, LstmMatchesTorch) {
  engine::Generator gen(0);
  peft::p_tuning::BidirectionalLstm lstm(3, 2, 2, 0.0, gen);
  int k = 0;
  for (auto& [name, p] : lstm.named_parameters()) {
    std::vector<double> v;
    for (int64_t i = 0; i < p.numel(); ++i) v.push_back(0.5 * std::sin(0.37 * double(i) + k));
    lstm.param(name) = engine::from_vector(v, p.shape());
    ++k;
  }
  std::vector<double> x;
  for (int i = 0; i < 12; ++i) x.push_back(0.3 * std::cos(0.5 * i));
  const std::vector<double> torch_out = {-0.0539343427761, -0.0632729623297, -0.0598879357564, -0.0562368987636,
                                         -0.0524859490963, -0.0904091960699, -0.0648054190361, -0.046354558292,
                                         -0.0523856474956, -0.0993797179151, -0.0564402966953, -0.0540581566764,
                                         -0.084110238625,  -0.0938198712717, -0.0294259854068, -0.0721492959392};
  const std::vector<double> ours = lstm.forward(engine::from_vector(x, {1, 4, 3})).to_vector<double>();
  ASSERT_EQ(ours.size(), torch_out.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], torch_out[i], 1e-10) << i;
}

TEST(PTuning, LstmGradcheck) {
  engine::Generator gen(1);
  peft::p_tuning::BidirectionalLstm lstm(3, 2, 2, 0.0, gen);
  std::vector<std::string> names;
  std::vector<Tensor> inputs = {engine::to_dtype(engine::randn({2, 3, 3}, engine::DType::f32, gen), engine::DType::f64)
                                    .requires_grad_()};
  for (auto& [name, p] : lstm.named_parameters()) {
    names.push_back(name);
    inputs.push_back(engine::to_dtype(p, engine::DType::f64).detach().requires_grad_());
  }
  auto fn = [&](const std::vector<Tensor>& in) {
    for (size_t i = 0; i < names.size(); ++i) lstm.param(names[i]) = in[i + 1];
    return lstm.forward(in[0]);
  };
  const auto result = engine::autograd::gradcheck(fn, inputs);
  EXPECT_TRUE(result.ok) << result.message;
}

// Only the adapter's tensors move under AdamW; unloading gives back a bit-identical base.
TEST(PromptMethods, TrainingLeavesTheBaseUntouched) {
  for (const std::string& preset : {"prompt_tuning", "p_tuning"})
    for (const std::string& type : kTypes) {
      auto m = with_adapter(type, preset, {{"num_virtual_tokens", 3}});
      const auto base_before = base_state(m->base());
      std::map<std::string, Tensor> adapter_before;
      for (auto& [name, t] : m->trainable_parameters()) adapter_before[name] = engine::clone(t.detach());
      engine::optim::AdamW opt(m->trainable_parameters(), {.lr = 1e-2});
      for (int step = 0; step < 3; ++step) {
        opt.zero_grad();
        m->forward(tiny_batch(type)).loss.backward();
        opt.step();
      }
      for (auto& [name, t] : m->trainable_parameters())
        EXPECT_GT(max_abs_diff(t, adapter_before.at(name)), 0) << preset << " " << type << " " << name << " did not train";
      m->unload();
      const auto base_after = base_state(m->base());
      ASSERT_EQ(base_after.size(), base_before.size()) << preset << " " << type;
      for (auto& [name, t] : base_before) EXPECT_EQ(max_abs_diff(t, base_after.at(name)), 0) << preset << " " << type << " " << name;
    }
}

// The frozen base computes no weight gradient: the only linear.dw kernels are the adapter's
// (P-tuning's 3 MLP layers) and the classifier copy (BERT SEQ_CLS).
TEST(PromptMethods, FrozenBaseRunsNoWeightGradientKernel) {
  const std::pair<std::string, std::string> cases[] = {{"prompt_tuning", "gpt2"}, {"prompt_tuning", "bert"},
                                                       {"p_tuning", "gpt2"}, {"p_tuning", "t5"}};
  for (const auto& [preset, type] : cases) {
    auto m = with_adapter(type, preset, {{"num_virtual_tokens", 3}});
    const int64_t expected = (preset == "p_tuning" ? 3 : 0) + (type == "bert" ? 1 : 0);
    const models::ModelOutput out = m->forward(tiny_batch(type));
    engine::reset_counters();
    out.loss.backward();
    EXPECT_EQ(engine::counters().backward_count("linear.dw"), expected) << preset << " " << type;
  }
}

TEST(PromptMethods, SaveLoadReproducesOutputs) {
  const std::pair<std::string, json> cases[] = {{"prompt_tuning", json::object()},
                                                {"p_tuning", json::object()},
                                                {"p_tuning", {{"encoder_reparameterization_type", "LSTM"}}}};
  for (const auto& [preset, extra] : cases)
    for (const std::string& type : kTypes) {
      json overrides = extra;
      overrides["num_virtual_tokens"] = 3;
      auto m = with_adapter(type, preset, overrides);
      const fs::path dir = fs::path(::testing::TempDir()) / ("prompt_roundtrip_" + preset + "_" + type);
      m->save_pretrained(dir);
      peft::PeftModel loaded(tiny_model(type));
      loaded.load_adapter(dir, "default", /*trainable=*/true);
      // PEFT's file holds the encoder output: a loaded P-tuning adapter is a plain table.
      std::vector<std::string> names;
      for (auto& [name, t] : loaded.trainable_parameters()) names.push_back(name);
      EXPECT_EQ(names.front(), "prompt_embeddings");
      EXPECT_EQ(names.size(), type == "bert" ? 3u : 1u) << preset << " " << type;
      engine::NoGradGuard no_grad;
      const models::Batch batch = tiny_batch(type);
      EXPECT_LT(max_abs_diff(m->forward(batch).logits, loaded.forward(batch).logits), 1e-5) << preset << " " << type;
      fs::remove_all(dir);
    }
}

TEST(PromptMethods, MergeIsRefused) {
  auto m = with_adapter("gpt2", "prompt_tuning", {{"num_virtual_tokens", 3}});
  EXPECT_THROW(m->merge_adapter(), engine::ValueError);
}

}  // namespace
