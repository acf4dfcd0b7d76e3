// Tests of `peft pretrain` (app/train/pretrain.h) on tiny models and the generated corpus:
// GPT-2 causal LM lowers its loss in 30 steps and the saved folder reloads (model and
// tokenizer) with identical logits; one BERT masked-LM and one T5 span-corruption run train
// and reload; a missing or empty corpus is an IOError naming the file, also from the program.
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "app/train/metrics_log.h"
#include "app/train/pretrain.h"
#include "engine/engine.h"

using namespace app::train;
namespace fs = std::filesystem;

namespace {

class Pretrain : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("peft_test_pretrain_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  PretrainOptions tiny(const std::string& arch) const {
    PretrainOptions o;
    o.arch = arch, o.generated = true, o.generated_documents = 300;
    o.vocab_size = arch == "t5" ? 500 : 400;
    o.layers = 1, o.hidden = 32, o.heads = 2, o.context = 32;
    o.out = (dir_ / arch).string();
    o.train.lr = 3e-3, o.train.batch_size = 8, o.train.max_steps = 2, o.train.progress = false;
    o.train.log_every = 1, o.train.warmup_steps = 0, o.train.schedule = "constant";
    return o;
  }

  fs::path dir_;
};

models::Batch probe_batch(const models::Tokenizer& tok) {
  models::Batch b;
  const auto ids = tok.encode("Anna walked to the park in the morning.", false).ids;
  b.input_ids = engine::from_vector(ids, {1, int64_t(ids.size())});
  return b;
}

void expect_same_logits(models::PretrainedModel& a, models::PretrainedModel& b, const models::Batch& batch) {
  a.eval(), b.eval();
  engine::NoGradGuard no_grad;
  const auto x = a.forward(batch).logits.to_vector<float>(), y = b.forward(batch).logits.to_vector<float>();
  ASSERT_EQ(x.size(), y.size());
  EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float)));
}

template <typename F>
void expect_io_error_naming(F f, const std::string& file) {
  try {
    f();
    ADD_FAILURE() << "no IOError";
  } catch (const engine::IOError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
}

}  // namespace

TEST_F(Pretrain, Gpt2LowersLossAndReloadsWithIdenticalLogits) {
  PretrainOptions o = tiny("gpt2");
  o.train.max_steps = 30;
  const PretrainResult r = run_pretrain(o);
  EXPECT_EQ(r.train.steps, 30);
  const auto log = read_metrics(fs::path(o.out) / "training" / "metrics.jsonl");
  ASSERT_FALSE(log.empty());
  EXPECT_LT(r.train.last_loss, log.front()["loss"].get<double>() - 1.0);

  auto tok = models::load_tokenizer(o.out);
  auto loaded = models::load_pretrained(o.out);
  EXPECT_EQ(loaded->architecture(), "GPT2LMHeadModel");
  EXPECT_EQ(loaded->vocab_size(), tok->vocab_size());
  expect_same_logits(*r.model, *loaded, probe_batch(*tok));
}

TEST_F(Pretrain, BertMaskedLmStepRunsAndReloads) {
  const PretrainOptions o = tiny("bert");
  const PretrainResult r = run_pretrain(o);
  EXPECT_EQ(r.train.steps, 2);
  EXPECT_TRUE(std::isfinite(r.train.last_loss));
  EXPECT_GT(r.train.last_loss, 0);
  auto tok = models::load_tokenizer(o.out);
  EXPECT_EQ(tok->kind(), "wordpiece");
  auto loaded = models::load_pretrained(o.out);
  EXPECT_EQ(loaded->architecture(), "BertForMaskedLM");
  expect_same_logits(*r.model, *loaded, probe_batch(*tok));
}

TEST_F(Pretrain, T5SpanCorruptionStepRunsAndReloads) {
  const PretrainOptions o = tiny("t5");
  const PretrainResult r = run_pretrain(o);
  EXPECT_EQ(r.train.steps, 2);
  EXPECT_TRUE(std::isfinite(r.train.last_loss));
  auto tok = models::load_tokenizer(o.out);
  ASSERT_TRUE(tok->pad_id() && tok->eos_id() && tok->token_to_id("<extra_id_99>"));
  auto loaded = models::load_pretrained(o.out);
  EXPECT_EQ(loaded->config()["decoder_start_token_id"], *tok->pad_id());
  EXPECT_EQ(loaded->config()["eos_token_id"], *tok->eos_id());
  models::Batch b = probe_batch(*tok);
  b.labels = b.input_ids;
  expect_same_logits(*r.model, *loaded, b);
}

TEST_F(Pretrain, ConfigFileReplacesTheSizeFlags) {
  PretrainOptions o = tiny("gpt2");
  o.config = (dir_ / "config.json").string();
  std::ofstream(o.config) << R"({"model_type": "gpt2", "n_embd": 24, "n_layer": 2, "n_head": 3, "n_positions": 40})";
  const PretrainResult r = run_pretrain(o);
  EXPECT_EQ(r.model->hidden_size(), 24);
  EXPECT_EQ(r.model->num_layers(), 2);
  EXPECT_EQ(r.model->config()["vocab_size"], 400);  // from the trained tokenizer
  std::ofstream(o.config) << R"({"model_type": "bert"})";
  o.out = (dir_ / "other").string();
  EXPECT_THROW(run_pretrain(o), engine::ConfigError);
}

TEST_F(Pretrain, MissingOrEmptyCorpusIsAnIOErrorNamingTheFile) {
  PretrainOptions o = tiny("gpt2");
  o.generated = false;
  o.corpus = (dir_ / "missing.txt").string();
  expect_io_error_naming([&] { run_pretrain(o); }, o.corpus);
  o.corpus = (dir_ / "blank.txt").string();
  std::ofstream(o.corpus) << "\n  \n\n";
  expect_io_error_naming([&] { run_pretrain(o); }, o.corpus);

  // The program prints it as one line and exits with status 1.
  const fs::path err = dir_ / "stderr.txt";
  const std::string cmd = std::string(PEFT_BINARY_DIR) + "/app/peft pretrain --corpus " + (dir_ / "missing.txt").string() +
                          " --out " + (dir_ / "cli").string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::stringstream text;
  text << std::ifstream(err).rdbuf();
  EXPECT_NE(text.str().find("missing.txt"), std::string::npos) << text.str();
}
